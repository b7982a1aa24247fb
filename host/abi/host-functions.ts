// The proxy-wasm host functions (module "env"), as Envoy answers them. Every guest pointer is
// bounds-checked: a bad one gets InvalidMemoryAccess, never a host exception.

import { BufferType, LogLevel, MapType, StreamType, WasmResult } from '../../abi/enums.js';
import type { BodyBuffer } from '../chain/body-buffer.js';
import type { HeaderMap } from '../chain/header-map.js';
import { StreamDirection } from '../chain/stream-actions.js';
import { MAX_LOG_MESSAGE_BYTES } from '../limits.js';
import { getCallStatus } from './call-status.js';
import { systemClock } from './clock.js';
import { callForeignFunction, FOREIGN_FUNCTION_NAMES } from './foreign-functions.js';
import { GrpcCalls } from './grpc-calls.js';
import { GuestBytesCache } from './guest-bytes-cache.js';
import { validHeaderName, validHeaderValue } from './header-syntax.js';
import { parsePairs, serializePairs } from './pairs.js';
import { proxyHttpCall } from './http-calls.js';
import { getProperty, propertyPathParts } from './properties.js';
import { sharedQueueFunctions } from './shared-queue-functions.js';
import { isTrailerMap, readTrailers, writableTrailers } from './trailer-maps.js';
import { Phase, type WasmVm } from './wasm-vm.js';

type HostFn = (...args: number[]) => number;

const PINO_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

const U32_MAX = 0xffffffff;

/** Maps a pino level name to the proxy-wasm level a filter sees. */
function proxyLevel(pinoLevel: string): number {
  const i = PINO_LEVELS.indexOf(pinoLevel as (typeof PINO_LEVELS)[number]);
  return i < 0 ? LogLevel.Critical : i;
}

/** `flat` without the pairs whose key was blanked (merged into an earlier one). */
function dropEmptyKeys(flat: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) if (flat[i] !== '') out.push(flat[i], flat[i + 1]);
  return out;
}

export function proxyHostFunctions(vm: WasmVm): Record<string, HostFn> {
  const mem = vm.memory;
  const log = vm.spec.logger;
  const grpc = new GrpcCalls(vm);

  function mapFor(type: number): HeaderMap | null | undefined {
    if (type === MapType.GrpcReceiveInitialMetadata || type === MapType.GrpcReceiveTrailingMetadata) return grpc.receivedMap(type);
    if (type === MapType.HttpCallResponseHeaders || type === MapType.HttpCallResponseTrailers) {
      const r = vm.httpCalls.response;
      if (r !== null) return type === MapType.HttpCallResponseHeaders ? r.headers : r.trailers;
    }
    const s = vm.current;
    if (s === null) return undefined;
    if (type === MapType.HttpRequestHeaders) return s.requestHeaders;
    if (type === MapType.HttpResponseHeaders) return s.responseHeaders;
    if (isTrailerMap(type)) return readTrailers(s, type);
    return null;
  }

  /** A body is there during its callback and while a filter holds it (the chain sets and clears it). */
  function bodyFor(type: number): BodyBuffer | null {
    if (type === BufferType.GrpcReceiveBuffer) return grpc.receivedMessage();
    if (type === BufferType.HttpCallResponseBody) return vm.httpCalls.response?.body ?? null;
    const s = vm.current;
    if (s === null) return null;
    if (type === BufferType.HttpRequestBody) return s.requestBody;
    if (type === BufferType.HttpResponseBody) return s.responseBody;
    return null;
  }

  /** The map a write may change, or a WasmResult explaining why not. */
  function writableMap(type: number): HeaderMap | number {
    if (type > MapType.HttpCallResponseTrailers || type < 0) return WasmResult.BadArgument;
    if (vm.phase === Phase.Log) return WasmResult.BadArgument;
    if (isTrailerMap(type)) {
      const s = vm.current;
      return (s && writableTrailers(s, type)) ?? WasmResult.BadArgument;
    }
    const m = mapFor(type);
    return m ? m : WasmResult.BadArgument;
  }

  /** Foreign function names already reported unknown on this instance (one log line each). */
  const unknownForeign = new Set<string>();
  const names = new GuestBytesCache<string>();
  const paths = new GuestBytesCache<readonly string[]>();

  /** decode() of guest bytes read as latin1, through `cache`; null when out of bounds. */
  function readCached<T>(cache: GuestBytesCache<T>, ptr: number, len: number, decode: (latin1: string) => T): T | null {
    const u8 = mem.bytes();
    const p = ptr >>> 0;
    const n = len >>> 0;
    if (p + n > u8.length) return null;
    const cached = cache.get(u8, p, n);
    if (cached !== undefined) return cached;
    const value = decode(mem.latin1(p, n)!);
    cache.set(u8, p, n, value);
    return value;
  }

  /** Lower-cased and checked once per cached name: '' marks one that is not a valid header name. */
  const headerName = (s: string): string => {
    const k = s.toLowerCase();
    return validHeaderName(k) ? k : '';
  };

  /**
   * A header name from the guest, lower-cased; '' when it is not a valid name (no entry has that
   * key, so reads find nothing and writes must refuse it); null when out of bounds.
   */
  function readKey(ptr: number, len: number): string | null {
    return readCached(names, ptr, len, headerName);
  }

  /**
   * Envoy keeps host and :authority as one header in a request map (its `host` lookup names the
   * :authority entry), so a filter setting `host` changes where the request goes, and the upstream
   * never gets two Host headers.
   */
  function requestKey(type: number, key: string): string {
    return key === 'host' && type === MapType.HttpRequestHeaders ? ':authority' : key;
  }

  /** A property path from the guest, split into segments; null when out of bounds. */
  function readPath(ptr: number, len: number): readonly string[] | null {
    return readCached(paths, ptr, len, propertyPathParts);
  }

  function configurationBuffer(type: number): Buffer | null {
    if (type === BufferType.VmConfiguration) return vm.spec.vmConfiguration;
    if (type === BufferType.PluginConfiguration && (vm.phase === Phase.Configure || vm.phase === Phase.VmStart)) return vm.spec.configuration;
    return null;
  }

  const fns: Record<string, HostFn> = {
    ...grpc.hostFunctions(),

    proxy_log(level, ptr, len) {
      if (level < 0 || level > LogLevel.Critical) return WasmResult.BadArgument;
      let msg = mem.string(ptr, Math.min(len >>> 0, MAX_LOG_MESSAGE_BYTES));
      if (msg === null) return WasmResult.InvalidMemoryAccess;
      const pinoLevel = PINO_LEVELS[level];
      if (level >= LogLevel.Error) vm.lastErrorLog = msg.length > 300 ? `${msg.slice(0, 300)}…` : msg;
      // The plugin's own logger: with several root contexts on one instance, the one being called.
      const log = vm.spec.logger;
      if (log.isLevelEnabled(pinoLevel)) {
        if (len >>> 0 > MAX_LOG_MESSAGE_BYTES) msg += ' …(truncated)';
        const s = vm.current;
        if (s) log[pinoLevel]({ reqId: s.id }, msg);
        else log[pinoLevel](msg);
      }
      return WasmResult.Ok;
    },

    proxy_get_log_level(out) {
      return mem.writeU32(out, proxyLevel(log.level)) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },

    proxy_get_current_time_nanoseconds(out) {
      return mem.writeU64(out, (vm.spec.clock ?? systemClock).nowNs()) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },

    proxy_get_buffer_bytes(type, start, max, ptrOut, lenOut) {
      if (type < 0 || type > BufferType.CallData) return WasmResult.BadArgument;
      if ((start >>> 0) + (max >>> 0) > U32_MAX) return WasmResult.BadArgument;
      const conf = configurationBuffer(type);
      let bytes: Buffer;
      if (conf) bytes = conf.subarray(start >>> 0, Math.min(conf.length, (start >>> 0) + (max >>> 0)));
      else {
        const body = bodyFor(type);
        if (!body) return WasmResult.NotFound;
        bytes = body.slice(start >>> 0, max >>> 0);
      }
      return vm.returnBytes(bytes, ptrOut, lenOut);
    },

    proxy_get_buffer_status(type, lenOut, flagsOut) {
      if (type < 0 || type > BufferType.CallData) return WasmResult.BadArgument;
      const conf = configurationBuffer(type);
      const len = conf ? conf.length : bodyFor(type)?.length;
      if (len === undefined) return WasmResult.NotFound;
      if (!mem.writeU32(lenOut, len) || !mem.writeU32(flagsOut, 0)) return WasmResult.InvalidMemoryAccess;
      return WasmResult.Ok;
    },

    proxy_set_buffer_bytes(type, start, size, ptr, len) {
      if (type < 0 || type > BufferType.CallData) return WasmResult.BadArgument;
      if (configurationBuffer(type) || type === BufferType.HttpCallResponseBody) return WasmResult.BadArgument;
      const body = bodyFor(type);
      if (!body) return WasmResult.NotFound;
      const data = mem.copy(ptr, len);
      if (data === null) return WasmResult.InvalidMemoryAccess;
      return body.set(start >>> 0, size >>> 0, data) ? WasmResult.Ok : WasmResult.BadArgument;
    },

    proxy_get_header_map_size(type, out) {
      if (type < 0 || type > MapType.HttpCallResponseTrailers) return WasmResult.BadArgument;
      const m = mapFor(type);
      if (!m) return WasmResult.BadArgument;
      return mem.writeU32(out, m.byteSize()) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },

    proxy_get_header_map_pairs(type, ptrOut, lenOut) {
      if (type < 0 || type > MapType.HttpCallResponseTrailers) return WasmResult.BadArgument;
      const m = mapFor(type);
      return vm.returnBytes(m?.count ? serializePairs(m.flat) : Buffer.alloc(0), ptrOut, lenOut);
    },

    proxy_set_header_map_pairs(type, ptr, len) {
      const m = writableMap(type);
      if (typeof m === 'number') return m;
      const bytes = mem.view(ptr, len);
      if (bytes === null) return WasmResult.InvalidMemoryAccess;
      const flat = parsePairs(bytes);
      if (flat === null) return WasmResult.BadArgument;
      let authority = -1;
      for (let i = 0; i < flat.length; i += 2) {
        flat[i] = requestKey(type, flat[i].toLowerCase());
        if (!validHeaderName(flat[i]) || !validHeaderValue(flat[i + 1])) return WasmResult.BadArgument;
        if (flat[i] === ':authority' && type === MapType.HttpRequestHeaders) {
          // One :authority, as Envoy's (single-valued) entry: a second value is appended to it.
          if (authority < 0) authority = i;
          else {
            flat[authority + 1] += `,${flat[i + 1]}`;
            flat[i] = '';
          }
        }
      }
      m.flat = authority >= 0 && flat.includes('') ? dropEmptyKeys(flat) : flat;
      return WasmResult.Ok;
    },

    proxy_get_header_map_value(type, kp, kl, ptrOut, lenOut) {
      if (type < 0 || type > MapType.HttpCallResponseTrailers) return WasmResult.BadArgument;
      const key = readKey(kp, kl);
      if (key === null) return WasmResult.InvalidMemoryAccess;
      const m = mapFor(type);
      if (m === undefined) return WasmResult.BadArgument;
      const v = m?.get(requestKey(type, key));
      if (v === undefined) {
        if (vm.abi !== '0.1.0') return WasmResult.NotFound;
        return vm.returnBytes(Buffer.alloc(0), ptrOut, lenOut);
      }
      return vm.returnLatin1(v, ptrOut, lenOut);
    },

    proxy_add_header_map_value(type, kp, kl, vp, vl) {
      const m = writableMap(type);
      if (typeof m === 'number') return m;
      const key = readKey(kp, kl);
      const value = mem.latin1(vp, vl);
      if (key === null || value === null) return WasmResult.InvalidMemoryAccess;
      if (key === '' || !validHeaderValue(value)) return WasmResult.BadArgument;
      const k = requestKey(type, key);
      const old = k === ':authority' && type === MapType.HttpRequestHeaders ? m.get(k) : undefined;
      // Envoy appends to a single-valued entry (its inline headers) instead of adding a second one.
      if (old !== undefined) m.replace(k, `${old},${value}`);
      else m.add(k, value);
      return WasmResult.Ok;
    },

    proxy_replace_header_map_value(type, kp, kl, vp, vl) {
      const m = writableMap(type);
      if (typeof m === 'number') return m;
      const key = readKey(kp, kl);
      const value = mem.latin1(vp, vl);
      if (key === null || value === null) return WasmResult.InvalidMemoryAccess;
      if (key === '' || !validHeaderValue(value)) return WasmResult.BadArgument;
      m.replace(requestKey(type, key), value);
      return WasmResult.Ok;
    },

    proxy_remove_header_map_value(type, kp, kl) {
      const m = writableMap(type);
      if (typeof m === 'number') return m;
      const key = readKey(kp, kl);
      if (key === null) return WasmResult.InvalidMemoryAccess;
      m.remove(requestKey(type, key));
      return WasmResult.Ok;
    },

    proxy_get_property(pp, pl, ptrOut, lenOut) {
      const parts = readPath(pp, pl);
      if (parts === null) return WasmResult.InvalidMemoryAccess;
      const value = getProperty(vm, vm.current, parts);
      if (value === undefined) return WasmResult.NotFound;
      return typeof value === 'string' ? vm.returnLatin1(value, ptrOut, lenOut) : vm.returnBytes(value, ptrOut, lenOut);
    },

    proxy_set_property(pp, pl, vp, vl) {
      const path = mem.latin1(pp, pl);
      const value = mem.copy(vp, vl);
      if (path === null || value === null) return WasmResult.InvalidMemoryAccess;
      const s = vm.current;
      if (s === null) return WasmResult.NotFound;
      (s.filterState ??= new Map()).set(propertyPathParts(path).join('.'), value);
      return WasmResult.Ok;
    },

    proxy_send_local_response(status, dp, dl, bp, bl, hp, hl, _grpc) {
      const details = mem.latin1(dp, dl);
      const body = mem.copy(bp, bl);
      const headerBytes = mem.view(hp, hl);
      if (details === null || body === null || headerBytes === null) return WasmResult.InvalidMemoryAccess;
      const pairs = parsePairs(headerBytes);
      if (pairs === null) return WasmResult.BadArgument;
      const headers: string[] = [];
      for (let i = 0; i < pairs.length; i += 2) {
        const k = pairs[i].toLowerCase();
        if (!validHeaderName(k) || k[0] === ':' || !validHeaderValue(pairs[i + 1])) return WasmResult.BadArgument;
        // The proxy frames the reply itself (content-length of the real body): a guest's framing
        // header beside it would make two lengths, which clients reject and smugglers use.
        if (k === 'content-length' || k === 'transfer-encoding') continue;
        headers.push(k, pairs[i + 1]);
      }
      if (status < 200 || status > 599) return WasmResult.BadArgument;
      const s = vm.current;
      if (s === null || vm.phase === Phase.Log || vm.phase === Phase.Done || vm.phase === Phase.Delete) return WasmResult.BadArgument;
      s.actions.sendLocalReply({ status, body, headers, details: details.replace(/\s/g, '_'), filter: vm.spec.name });
      return WasmResult.Ok;
    },

    proxy_continue_stream(type) {
      if (type < 0 || type > StreamType.Upstream) return WasmResult.BadArgument;
      const s = vm.current;
      if (s === null) return WasmResult.NotFound;
      if (type === StreamType.HttpRequest) s.actions.continueStream(StreamDirection.Request);
      else if (type === StreamType.HttpResponse) s.actions.continueStream(StreamDirection.Response);
      else return WasmResult.Unimplemented;
      return WasmResult.Ok;
    },

    proxy_close_stream(type) {
      if (type < 0 || type > StreamType.Upstream) return WasmResult.BadArgument;
      const s = vm.current;
      if (s === null) return WasmResult.NotFound;
      if (type === StreamType.HttpRequest) s.actions.closeStream(StreamDirection.Request);
      else if (type === StreamType.HttpResponse) s.actions.closeStream(StreamDirection.Response);
      else return WasmResult.Unimplemented;
      return WasmResult.Ok;
    },

    proxy_continue_request() {
      return fns.proxy_continue_stream(StreamType.HttpRequest);
    },

    proxy_continue_response() {
      return fns.proxy_continue_stream(StreamType.HttpResponse);
    },

    proxy_clear_route_cache() {
      return WasmResult.Ok;
    },

    proxy_get_configuration(ptrOut, lenOut) {
      const conf = vm.phase === Phase.VmStart ? vm.spec.vmConfiguration : vm.phase === Phase.Configure ? vm.spec.configuration : null;
      if (!conf) return WasmResult.NotFound;
      return vm.returnBytes(conf, ptrOut, lenOut);
    },

    proxy_set_effective_context(id) {
      return vm.setEffectiveContext(id >>> 0) ? WasmResult.Ok : WasmResult.BadArgument;
    },

    proxy_http_call(up, ul, hp, hl, bp, bl, tp, tl, timeoutMs, tokenOut) {
      return proxyHttpCall(vm, up, ul, hp, hl, bp, bl, tp, tl, timeoutMs, tokenOut);
    },

    proxy_set_tick_period_milliseconds(ms) {
      vm.setTickPeriod(ms >>> 0);
      return WasmResult.Ok;
    },

    proxy_done() {
      return WasmResult.NotFound;
    },

    proxy_define_metric(type, np, nl, idOut) {
      const name = mem.string(np, nl);
      if (name === null || !mem.inBounds(idOut, 4)) return WasmResult.InvalidMemoryAccess;
      const id = vm.spec.metrics.define(vm.spec.name, type, name);
      if (id < 0) return -id;
      mem.writeU32(idOut, id);
      return WasmResult.Ok;
    },

    // i64 parameters arrive as BigInt.
    proxy_increment_metric(id, delta: number | bigint) {
      return vm.spec.metrics.increment(vm.spec.name, id >>> 0, BigInt(delta));
    },

    proxy_record_metric(id, value: number | bigint) {
      return vm.spec.metrics.record(vm.spec.name, id >>> 0, BigInt(value));
    },

    proxy_get_metric(id, out) {
      const v = vm.spec.metrics.value(vm.spec.name, id >>> 0);
      if (v === undefined) return WasmResult.NotFound;
      if (v === null) return WasmResult.BadArgument;
      return mem.writeU64(out, v) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },

    proxy_get_status(codeOut, ptrOut, lenOut) {
      // The root context's last completed call (call-status.ts); every stream of an instance belongs
      // to its one root context.
      const st = getCallStatus(vm, vm.rootId);
      if (!mem.writeU32(codeOut, st.code)) return WasmResult.InvalidMemoryAccess;
      return vm.returnBytes(st.message, ptrOut, lenOut);
    },

    proxy_call_foreign_function(np, nl, ap, al, ptrOut, lenOut) {
      const name = mem.string(np, nl);
      const args = mem.copy(ap, al);
      if (name === null || args === null) return WasmResult.InvalidMemoryAccess;
      const r = callForeignFunction(name, args);
      if (r === undefined) {
        if (!unknownForeign.has(name) && unknownForeign.size < 64) {
          unknownForeign.add(name);
          log.warn(
            { code: 'OUTRIGGER_FOREIGN_FUNCTION_UNKNOWN', function: name },
            `proxy_call_foreign_function("${name}"): Outrigger has no foreign function of that name; it returns NotFound (known: ${FOREIGN_FUNCTION_NAMES.join(', ')})`,
          );
        }
        return WasmResult.NotFound;
      }
      if (r.result !== WasmResult.Ok) return r.result;
      // Null out-pointers: the caller does not want the results.
      if (r.bytes === undefined || ptrOut === 0 || lenOut === 0) return WasmResult.Ok;
      return vm.returnBytes(r.bytes, ptrOut, lenOut);
    },

    proxy_get_shared_data(kp, kl, ptrOut, lenOut, casOut) {
      const key = mem.string(kp, kl);
      if (key === null || !mem.inBounds(casOut, 4)) return WasmResult.InvalidMemoryAccess;
      const entry = vm.spec.sharedData.get(vm.spec.vmId, key);
      if (!entry) return WasmResult.NotFound;
      const r = vm.returnBytes(entry.value, ptrOut, lenOut);
      if (r === WasmResult.Ok) mem.writeU32(casOut, entry.cas);
      return r;
    },

    proxy_set_shared_data(kp, kl, vp, vl, cas) {
      const key = mem.string(kp, kl);
      const value = mem.copy(vp, vl);
      if (key === null || value === null) return WasmResult.InvalidMemoryAccess;
      return vm.spec.sharedData.set(vm.spec.vmId, key, value, cas >>> 0);
    },
  };
  Object.assign(fns, sharedQueueFunctions(vm));
  return fns;
}
