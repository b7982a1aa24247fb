// Header (and trailer) maps: get / getAll / add / replace / remove / set, and the pair-map format
// of proxy-wasm ABI §4.1:
//   u32 count, then count × (u32 keyLen, u32 valueLen), then key \0 value \0 ...
// Keys are lower-case on the host (HTTP/2 style); pseudo-headers (":path", ":status", ...) are
// ordinary entries. Values travel as UTF-8.
import { MapType, WasmResult } from "../../abi/enums";
import {
  proxy_add_header_map_value,
  proxy_get_header_map_pairs,
  proxy_get_header_map_value,
  proxy_remove_header_map_value,
  proxy_replace_header_map_value,
  proxy_set_header_map_pairs,
} from "./imports";
import { RET_LEN, RET_PTR, clearReturnSlots, fromUtf8, takeHostBlock, toUtf8, utf8ForHost } from "./memory";

/** One header: name and value. Repeated headers appear as several pairs, in order. */
export class HeaderPair {
  constructor(public key: string, public value: string) {}
}

/** Serializes pairs into the ABI's pair-map layout. */
export function serializeHeaders(headers: Array<HeaderPair>): ArrayBuffer {
  const n = headers.length;
  const keys = new Array<ArrayBuffer>();
  const values = new Array<ArrayBuffer>();
  let size: usize = 4 + <usize>n * 8;
  for (let i = 0; i < n; i++) {
    const k = toUtf8(unchecked(headers[i]).key);
    const v = toUtf8(unchecked(headers[i]).value);
    keys.push(k);
    values.push(v);
    size += <usize>k.byteLength + 1 + <usize>v.byteLength + 1;
  }
  const buf = new ArrayBuffer(<i32>size);
  const base = changetype<usize>(buf);
  store<u32>(base, <u32>n);
  let lens = base + 4;
  let data = base + 4 + <usize>n * 8;
  for (let i = 0; i < n; i++) {
    const k = unchecked(keys[i]);
    const v = unchecked(values[i]);
    const kl = <usize>k.byteLength;
    const vl = <usize>v.byteLength;
    store<u32>(lens, <u32>kl);
    store<u32>(lens + 4, <u32>vl);
    lens += 8;
    memory.copy(data, changetype<usize>(k), kl);
    data += kl;
    store<u8>(data, 0);
    data += 1;
    memory.copy(data, changetype<usize>(v), vl);
    data += vl;
    store<u8>(data, 0);
    data += 1;
  }
  return buf;
}

/**
 * Parses a pair map. Bounds-checked: a truncated or malformed map yields the pairs that were
 * complete (an empty array for an empty or garbage buffer), never a trap.
 */
export function deserializeHeaders(buf: ArrayBuffer): Array<HeaderPair> {
  const out = new Array<HeaderPair>();
  const size = <u64>buf.byteLength;
  if (size < 4) return out;
  const base = changetype<usize>(buf);
  const n = load<u32>(base);
  if (4 + <u64>n * 8 > size) return out;
  let lens = base + 4;
  let offset: u64 = 4 + <u64>n * 8;
  for (let i: u32 = 0; i < n; i++) {
    const kl = <u64>load<u32>(lens);
    const vl = <u64>load<u32>(lens + 4);
    lens += 8;
    if (offset + kl + 1 + vl + 1 > size) break;
    const key = String.UTF8.decodeUnsafe(base + <usize>offset, <usize>kl, false);
    offset += kl + 1;
    const value = String.UTF8.decodeUnsafe(base + <usize>offset, <usize>vl, false);
    offset += vl + 1;
    out.push(new HeaderPair(key, value));
  }
  return out;
}

// ---- generic (any MapType: headers, trailers, call-response maps) ----

/** The first value of header `name`, or null when it is absent (NotFound) or on any host error. */
export function getHeader(map: MapType, name: string): string | null {
  const bytes = getHeaderBytes(map, name);
  return bytes !== null ? fromUtf8(bytes) : null;
}

/** getHeader without decoding: the value's bytes, for filters that only pass a value along. */
export function getHeaderBytes(map: MapType, name: string): ArrayBuffer | null {
  const key = utf8ForHost(name);
  clearReturnSlots();
  const status = proxy_get_header_map_value(<u32>map, changetype<usize>(key), <usize>key.byteLength, RET_PTR, RET_LEN);
  if (status != WasmResult.Ok) return null;
  return takeHostBlock();
}

/** Every pair of the map, in order; empty when the map is empty or unavailable. */
export function getHeaders(map: MapType): Array<HeaderPair> {
  clearReturnSlots();
  const status = proxy_get_header_map_pairs(<u32>map, RET_PTR, RET_LEN);
  if (status != WasmResult.Ok) return new Array<HeaderPair>();
  const bytes = takeHostBlock();
  return bytes !== null ? deserializeHeaders(bytes) : new Array<HeaderPair>();
}

/** Replaces the whole map with `headers`. */
export function setHeaders(map: MapType, headers: Array<HeaderPair>): WasmResult {
  const buf = serializeHeaders(headers);
  return <WasmResult>proxy_set_header_map_pairs(<u32>map, changetype<usize>(buf), <usize>buf.byteLength);
}

/** Appends a value, keeping existing values of the same name. */
export function addHeader(map: MapType, name: string, value: string): WasmResult {
  const k = utf8ForHost(name);
  const v = utf8ForHost(value);
  return <WasmResult>proxy_add_header_map_value(
    <u32>map, changetype<usize>(k), <usize>k.byteLength, changetype<usize>(v), <usize>v.byteLength);
}

/** Sets the header to this single value, adding it when missing. */
export function replaceHeader(map: MapType, name: string, value: string): WasmResult {
  return replaceHeaderBytes(map, name, utf8ForHost(value));
}

/** replaceHeader with the value as bytes (e.g. straight from getHeaderBytes or a property). */
export function replaceHeaderBytes(map: MapType, name: string, value: ArrayBuffer): WasmResult {
  const k = utf8ForHost(name);
  return <WasmResult>proxy_replace_header_map_value(
    <u32>map, changetype<usize>(k), <usize>k.byteLength, changetype<usize>(value), <usize>value.byteLength);
}

/** Removes every value of the header (Ok when it was absent). */
export function removeHeader(map: MapType, name: string): WasmResult {
  const k = utf8ForHost(name);
  return <WasmResult>proxy_remove_header_map_value(<u32>map, changetype<usize>(k), <usize>k.byteLength);
}

// ---- request headers ----
export function getRequestHeader(name: string): string | null {
  return getHeader(MapType.HttpRequestHeaders, name);
}
export function getRequestHeaders(): Array<HeaderPair> {
  return getHeaders(MapType.HttpRequestHeaders);
}
export function setRequestHeaders(headers: Array<HeaderPair>): WasmResult {
  return setHeaders(MapType.HttpRequestHeaders, headers);
}
export function addRequestHeader(name: string, value: string): WasmResult {
  return addHeader(MapType.HttpRequestHeaders, name, value);
}
export function replaceRequestHeader(name: string, value: string): WasmResult {
  return replaceHeader(MapType.HttpRequestHeaders, name, value);
}
export function removeRequestHeader(name: string): WasmResult {
  return removeHeader(MapType.HttpRequestHeaders, name);
}

// ---- response headers ----
export function getResponseHeader(name: string): string | null {
  return getHeader(MapType.HttpResponseHeaders, name);
}
export function getResponseHeaders(): Array<HeaderPair> {
  return getHeaders(MapType.HttpResponseHeaders);
}
export function setResponseHeaders(headers: Array<HeaderPair>): WasmResult {
  return setHeaders(MapType.HttpResponseHeaders, headers);
}
export function addResponseHeader(name: string, value: string): WasmResult {
  return addHeader(MapType.HttpResponseHeaders, name, value);
}
export function replaceResponseHeader(name: string, value: string): WasmResult {
  return replaceHeader(MapType.HttpResponseHeaders, name, value);
}
export function removeResponseHeader(name: string): WasmResult {
  return removeHeader(MapType.HttpResponseHeaders, name);
}
