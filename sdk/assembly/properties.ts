// Properties (Envoy attributes) through proxy_get_property / proxy_set_property.
//
// A property path is a list of segments; on the wire they are joined by NUL, the way Envoy and the
// Rust/Go SDKs send them: getProperty("request.path") sends "request\0path". A path that already
// contains a NUL is sent unchanged, and getPropertyPath(["filter_state", "a.b"]) keeps dots inside
// a segment. Values: strings are raw bytes, integers 8-byte little-endian, maps in the pair layout.
import { WasmResult } from "../../abi/enums";
import { proxy_get_property, proxy_set_property } from "./imports";
import { RET_LEN, RET_PTR, clearReturnSlots, fromUtf8, takeHostBlock, toUtf8 } from "./memory";
import { Result } from "./result";
import { HeaderPair, deserializeHeaders } from "./headers";

let lastPath: string | null = null;
let lastEncoded: ArrayBuffer | null = null;

/** "request.path" → "request\0path" (unchanged when it already contains a NUL). */
export function encodePropertyPath(path: string): ArrayBuffer {
  // Filters usually ask for the same path again and again: skip the rewrite when it is the same string.
  if (lastPath !== null && changetype<usize>(lastPath) == changetype<usize>(path)) return changetype<ArrayBuffer>(lastEncoded);
  const encoded = path.indexOf("\0") >= 0 ? toUtf8(path) : toUtf8(path.replaceAll(".", "\0"));
  lastPath = path;
  lastEncoded = encoded;
  return encoded;
}

/** Segments → the NUL-joined wire form. */
export function encodePropertySegments(segments: Array<string>): ArrayBuffer {
  return toUtf8(segments.join("\0"));
}

let lastStatus: WasmResult = WasmResult.Ok;

/** The value, or null with the reason in lastStatus: no Result object on the per-request path. */
function getPropertyRaw(encodedPath: ArrayBuffer): ArrayBuffer | null {
  clearReturnSlots();
  const status = <WasmResult>proxy_get_property(
    changetype<usize>(encodedPath), <usize>encodedPath.byteLength, RET_PTR, RET_LEN);
  if (status != WasmResult.Ok) {
    lastStatus = status;
    return null;
  }
  const bytes = takeHostBlock();
  lastStatus = bytes !== null ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  return bytes;
}

/** The raw value of a property, with the host's status (NotFound, SerializationFailure, ...). */
export function getPropertyResult(path: string): Result<ArrayBuffer | null> {
  const bytes = getPropertyRaw(encodePropertyPath(path));
  return new Result<ArrayBuffer | null>(lastStatus, bytes);
}

/** The raw value of a property, or null when the host does not have it. */
export function getProperty(path: string): ArrayBuffer | null {
  return getPropertyRaw(encodePropertyPath(path));
}

/** Like getProperty, with explicit segments (dots inside a segment are kept). */
export function getPropertyPath(segments: Array<string>): ArrayBuffer | null {
  return getPropertyRaw(encodePropertySegments(segments));
}

/** A string property (e.g. "request.path", "plugin_root_id"), or null when absent. */
export function getPropertyString(path: string): string | null {
  const bytes = getProperty(path);
  return bytes !== null ? fromUtf8(bytes) : null;
}

/**
 * An integer property (e.g. "source.port", "response.code"): 8 bytes, little-endian. A value of
 * another size gives SerializationFailure.
 */
export function getPropertyInt(path: string): Result<i64> {
  const r = getPropertyResult(path);
  if (!r.ok) return new Result<i64>(r.status, 0);
  const bytes = r.value;
  if (bytes === null || bytes.byteLength != 8) return new Result<i64>(WasmResult.SerializationFailure, 0);
  return new Result<i64>(WasmResult.Ok, load<i64>(changetype<usize>(bytes)));
}

/** A map property (e.g. "request.headers") as pairs; empty when absent. */
export function getPropertyMap(path: string): Array<HeaderPair> {
  const bytes = getProperty(path);
  return bytes !== null ? deserializeHeaders(bytes) : new Array<HeaderPair>();
}

/** Sets a property (Envoy stores it as filter state). */
export function setProperty(path: string, value: ArrayBuffer): WasmResult {
  const p = encodePropertyPath(path);
  return <WasmResult>proxy_set_property(
    changetype<usize>(p), <usize>p.byteLength, changetype<usize>(value), <usize>value.byteLength);
}

/** Sets a property to a UTF-8 string. */
export function setPropertyString(path: string, value: string): WasmResult {
  return setProperty(path, toUtf8(value));
}

/** A string property with the host's status: NotFound (value null) when the host does not have it. */
export function getPropertyStringResult(path: string): Result<string | null> {
  const bytes = getProperty(path);
  return new Result<string | null>(lastStatus, bytes !== null ? fromUtf8(bytes) : null);
}

/** A boolean property (e.g. "connection.mtls"): one byte, non-zero for true; another size gives SerializationFailure. */
export function getPropertyBool(path: string): Result<bool> {
  const bytes = getProperty(path);
  if (bytes === null) return new Result<bool>(lastStatus, false);
  if (bytes.byteLength != 1) return new Result<bool>(WasmResult.SerializationFailure, false);
  return new Result<bool>(WasmResult.Ok, load<u8>(changetype<usize>(bytes)) != 0);
}

/** Sets a property to an integer, 8 bytes little-endian (the encoding getPropertyInt reads). */
export function setPropertyInt(path: string, value: i64): WasmResult {
  const bytes = new ArrayBuffer(8);
  store<i64>(changetype<usize>(bytes), value);
  return setProperty(path, bytes);
}
