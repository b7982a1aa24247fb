// proxy_get_property: Envoy's attribute names and value encodings (strings raw, integers as 8-byte
// little-endian, maps in the pair layout) for the request being filtered and the plugin itself.

import type { HttpStream } from '../chain/http-stream.js';
import { serializePairs } from './pairs.js';
import type { WasmVm } from './wasm-vm.js';

const PLUGIN_KEYS = new Set(['plugin_name', 'plugin_root_id', 'plugin_vm_id']);

const splitCache = new Map<string, readonly string[]>();

/** splitPropertyPath, memoized: filters ask for the same few paths on every request. */
export function propertyPathParts(path: string): readonly string[] {
  let parts = splitCache.get(path);
  if (parts === undefined) {
    parts = splitPropertyPath(path);
    if (splitCache.size < 1024) splitCache.set(path, parts);
  }
  return parts;
}

/** Splits a guest-supplied path on NUL (trailing NUL allowed), or on '.' when it has no NUL. */
export function splitPropertyPath(path: string): string[] {
  if (path.includes('\0')) {
    const parts = path.split('\0');
    if (parts[parts.length - 1] === '') parts.pop();
    return parts;
  }
  if (PLUGIN_KEYS.has(path)) return [path];
  // AssemblyScript SDKs send dotted names as one segment; header names may hold dots themselves.
  const parts = path.split('.');
  if (parts.length > 2 && (parts[1] === 'headers' || parts[1] === 'trailers')) return [parts[0], parts[1], parts.slice(2).join('.')];
  return parts;
}

function int64(n: number | bigint): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigInt64LE(BigInt(n));
  return b;
}

/** Strings stay strings (latin1 octets) until copied into the guest: no intermediate Buffer. */
function str(s: string | undefined): string | undefined {
  return s;
}

function splitAddress(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function requestProperty(s: HttpStream, name: string, rest: string | undefined): PropertyValue {
  const h = s.requestHeaders;
  switch (name) {
    case 'path':
      return str(h.get(':path'));
    case 'url_path': {
      const p = h.get(':path');
      if (p === undefined) return undefined;
      const q = p.indexOf('?');
      return str(q < 0 ? p : p.slice(0, q));
    }
    case 'query': {
      const p = h.get(':path') ?? '';
      const q = p.indexOf('?');
      return str(q < 0 ? '' : p.slice(q + 1));
    }
    case 'host':
      return str(h.get(':authority'));
    case 'scheme':
      return str(h.get(':scheme'));
    case 'method':
      return str(h.get(':method'));
    case 'protocol':
      return str(s.connection.protocol);
    case 'id':
      return str(h.get('x-request-id') ?? s.id);
    case 'referer':
      return str(h.get('referer'));
    case 'useragent':
      return str(h.get('user-agent'));
    case 'time':
      return int64(BigInt(s.startTimeMs) * 1_000_000n);
    case 'duration':
      return int64(BigInt(Date.now() - s.startTimeMs) * 1_000_000n);
    case 'headers':
      return rest === undefined ? serializePairs(h.flat) : str(h.get(rest.toLowerCase()));
    default:
      return undefined;
  }
}

function responseProperty(s: HttpStream, name: string, rest: string | undefined): PropertyValue {
  switch (name) {
    case 'code':
      return s.responseCode ? int64(s.responseCode) : undefined;
    case 'headers':
      if (!s.responseHeaders) return undefined;
      return rest === undefined ? serializePairs(s.responseHeaders.flat) : str(s.responseHeaders.get(rest.toLowerCase()));
    default:
      return undefined;
  }
}

/** A property's value: raw bytes, a latin1 string, or undefined for NotFound. */
export type PropertyValue = Buffer | string | undefined;

/** The property's value, or undefined for NotFound. */
export function getProperty(vm: WasmVm, stream: HttpStream | null, parts: readonly string[]): PropertyValue {
  const [root, name, rest] = parts;
  switch (root) {
    case 'plugin_name':
      return Buffer.from(vm.spec.name);
    case 'plugin_root_id':
      return Buffer.from(vm.spec.rootId);
    case 'plugin_vm_id':
      return Buffer.from(vm.spec.vmId);
  }
  if (stream === null) return undefined;
  const state = stream.filterState?.get(parts.join('.'));
  if (state !== undefined) return state;
  const c = stream.connection;
  switch (root) {
    case 'request':
      return requestProperty(stream, name, rest);
    case 'response':
      return responseProperty(stream, name, rest);
    case 'source':
      if (name === 'address') return str(splitAddress(c.sourceAddress, c.sourcePort));
      if (name === 'port') return int64(c.sourcePort);
      return undefined;
    case 'destination':
      if (name === 'address') return str(splitAddress(c.destinationAddress, c.destinationPort));
      if (name === 'port') return int64(c.destinationPort);
      return undefined;
    default:
      return undefined;
  }
}
