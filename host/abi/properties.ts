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
      // Envoy has it once the request is complete (on_log); before that, the time so far.
      return int64(BigInt((s.info.endTimeMs || Date.now()) - s.startTimeMs) * 1_000_000n);
    case 'size': {
      // As Envoy: the content-length header when there is one, else the body bytes received.
      const cl = h.get('content-length');
      const n = cl === undefined ? Number.NaN : Number(cl);
      return int64(Number.isSafeInteger(n) && n >= 0 ? n : s.info.requestBodyBytes);
    }
    case 'total_size':
      return int64(s.info.requestBodyBytes + h.byteSize());
    case 'headers':
      return rest === undefined ? serializePairs(h.flat) : str(h.get(rest.toLowerCase()));
    default:
      return undefined;
  }
}

/** host:port (or the socket path) and port of an upstream target URL, parsed once per target. */
const upstreamAddresses = new Map<string, { address: string; port: number }>();

function upstreamAddress(target: string): { address: string; port: number } {
  let a = upstreamAddresses.get(target);
  if (a === undefined) {
    if (target.startsWith('unix:')) a = { address: target.slice('unix:'.length), port: 0 };
    else {
      const u = new URL(target);
      const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
      a = { address: `${u.hostname}:${port}`, port };
    }
    if (upstreamAddresses.size < 64) upstreamAddresses.set(target, a);
  }
  return a;
}

function upstreamProperty(s: HttpStream, name: string): PropertyValue {
  const target = s.info.upstreamTarget;
  if (target === '') return undefined;
  if (name === 'address') return str(upstreamAddress(target).address);
  if (name === 'port') return int64(upstreamAddress(target).port);
  return undefined;
}

function responseProperty(s: HttpStream, name: string, rest: string | undefined): PropertyValue {
  switch (name) {
    case 'code':
      return s.responseCode ? int64(s.responseCode) : undefined;
    case 'headers':
      if (!s.responseHeaders) return undefined;
      return rest === undefined ? serializePairs(s.responseHeaders.flat) : str(s.responseHeaders.get(rest.toLowerCase()));
    case 'size':
      return int64(s.info.responseBodyBytes);
    case 'total_size':
      return int64(s.info.responseBodyBytes + (s.responseHeaders?.byteSize() ?? 0));
    case 'flags':
      return int64(s.info.responseFlags);
    case 'code_details':
      return s.info.codeDetails === '' ? undefined : str(s.info.codeDetails);
    default:
      return undefined;
  }
}

/**
 * Roots answered from the request itself. Anything else is looked up in the filter state written by
 * proxy_set_property, as Envoy falls back to its filter state for a name it does not know: so a
 * filter cannot shadow an attribute (say source.address) for the filters after it.
 */
const ATTRIBUTE_ROOTS = new Set(['request', 'response', 'source', 'destination', 'connection', 'upstream']);

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
  if (!ATTRIBUTE_ROOTS.has(root)) return stream.filterState?.get(parts.join('.'));
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
    case 'connection':
      if (name === 'id' && c.connectionId !== undefined) return int64(c.connectionId);
      return undefined;
    case 'upstream':
      return upstreamProperty(stream, name);
    default:
      return undefined;
  }
}
