// proxy_http_call and what follows it: the calls a filter instance has in flight, each with a token
// unique in its VM and the context that made it. The response (or the failure: zero headers, as
// Envoy) comes back as proxy_on_http_call_response on the root context, from the event loop once the
// dispatcher's promise settles, never from inside a host call; WasmFilter runs it (its fault policy
// applies). A call is cancelled, with no callback, when the context that made it ends (a client gone
// mid-call) or its instance does (fault, recycle, the generation retired): Envoy's ~Context does the
// same. Who answers is the HttpCallDispatcher seam (the proxy's clusters, or the harness's mocks).

import { WasmResult } from '../../abi/enums.js';
import { BodyBuffer } from '../chain/body-buffer.js';
import { HeaderMap } from '../chain/header-map.js';
import type { HttpCallLogCode } from '../errors.js';
import { MAX_HTTP_CALLS_IN_FLIGHT } from '../limits.js';
import { validHeaderName, validHeaderValue } from './header-syntax.js';
import { HttpCallFailure, type HttpCallResponse } from './http-call-dispatcher.js';
import { parsePairs } from './pairs.js';
import type { WasmVm } from './wasm-vm.js';

/** The response proxy_on_http_call_response reads (maps 6 and 7, buffer 4), only during that callback. */
export interface CallResponseView {
  headers: HeaderMap;
  body: BodyBuffer;
  trailers: HeaderMap;
}

interface PendingCall {
  /** Context id that made the call (the root's, or a stream's). */
  owner: number;
  controller: AbortController;
}

const REQUIRED = [':method', ':path', ':authority'] as const;

/** The calls one VM has in flight. */
export class HttpCallTable {
  #next = 1;
  readonly #pending = new Map<number, PendingCall>();
  /** What proxy_on_http_call_response may read now (set by WasmFilter around the callback). */
  response: CallResponseView | null = null;
  /** Problems already logged, so a filter calling wrongly on every request logs once per kind. */
  readonly reported = new Set<string>();

  get size(): number {
    return this.#pending.size;
  }

  add(owner: number): { token: number; signal: AbortSignal } {
    let token = this.#next;
    // u32 tokens; 0 is never handed out (SDKs use it as "no call").
    this.#next = this.#next >= 0xffffffff ? 1 : this.#next + 1;
    while (this.#pending.has(token)) token = token >= 0xffffffff ? 1 : token + 1;
    const controller = new AbortController();
    this.#pending.set(token, { owner, controller });
    return { token, signal: controller.signal };
  }

  /** Removes a settled call; false when it was cancelled meanwhile (then no callback is made). */
  settle(token: number): boolean {
    return this.#pending.delete(token);
  }

  /** The context `owner` ended: its calls are cancelled. */
  cancelOwnedBy(owner: number): void {
    for (const [token, c] of this.#pending)
      if (c.owner === owner) {
        this.#pending.delete(token);
        c.controller.abort();
      }
  }

  /** The instance is gone: every call is cancelled. */
  cancelAll(): void {
    const calls = [...this.#pending.values()];
    this.#pending.clear();
    for (const c of calls) c.controller.abort();
  }
}

/** The response handed to WasmFilter, or null for a failed call (zero headers). */
export function responseView(res: HttpCallResponse | null): CallResponseView | null {
  if (res === null) return null;
  return { headers: new HeaderMap(res.headers), body: new BodyBuffer(res.body.length ? [res.body] : []), trailers: new HeaderMap(res.trailers) };
}

/** Logs a refused proxy_http_call once per VM and problem, with what to fix; returns `result`. */
function refuse(vm: WasmVm, result: WasmResult, code: HttpCallLogCode, key: string, message: string): number {
  const calls = vm.httpCalls;
  // Bounded: a filter sending ever-new bad header names must not grow the set without end.
  if (!calls.reported.has(key) && calls.reported.size < 64) {
    calls.reported.add(key);
    vm.spec.logger.warn(
      { code, call: 'proxy_http_call', result: WasmResult[result] },
      `proxy_http_call returned ${WasmResult[result]}: ${message} (logged once)`,
    );
  }
  return result;
}

/** Failed calls logged at most once a second per cluster and kind: an auth server down must not flood the log. */
const lastFailureLog = new Map<string, number>();

function logFailure(vm: WasmVm, cluster: string, err: unknown): void {
  const kind = err instanceof HttpCallFailure ? err.kind : 'reset';
  if (kind === 'cancelled') return;
  const key = `${vm.spec.name}\0${cluster}\0${kind}`;
  const now = Date.now();
  if ((lastFailureLog.get(key) ?? 0) > now - 1000) return;
  lastFailureLog.set(key, now);
  const code: HttpCallLogCode = 'OUTRIGGER_HTTP_CALL_FAILED';
  vm.spec.logger.warn(
    { code, cluster, kind },
    `proxy_http_call to cluster "${cluster}" failed (${kind}): ${(err as Error).message}; the filter gets zero headers (at most one line a second per cluster and kind)`,
  );
}

/** proxy_http_call(upstream, headers, body, trailers, timeout_ms, →token). */
export function proxyHttpCall(
  vm: WasmVm,
  up: number,
  ul: number,
  hp: number,
  hl: number,
  bp: number,
  bl: number,
  tp: number,
  tl: number,
  timeoutMs: number,
  tokenOut: number,
): number {
  const mem = vm.memory;
  const cluster = mem.string(up, ul);
  const headerBytes = mem.view(hp, hl);
  const body = mem.copy(bp, bl);
  const trailerBytes = mem.view(tp, tl);
  if (cluster === null || headerBytes === null || body === null || trailerBytes === null || !mem.inBounds(tokenOut, 4)) return WasmResult.InvalidMemoryAccess;
  const headers = parsePairs(headerBytes);
  const trailers = tl >>> 0 === 0 ? [] : parsePairs(trailerBytes);
  if (headers === null || trailers === null)
    return refuse(
      vm,
      WasmResult.BadArgument,
      'OUTRIGGER_HTTP_CALL_BAD_ARGUMENT',
      'pairs',
      `the ${headers === null ? 'headers' : 'trailers'} are not a valid serialized map`,
    );
  for (const flat of [headers, trailers])
    for (let i = 0; i < flat.length; i += 2) {
      flat[i] = flat[i].toLowerCase();
      if (!validHeaderName(flat[i]) || !validHeaderValue(flat[i + 1]))
        return refuse(vm, WasmResult.BadArgument, 'OUTRIGGER_HTTP_CALL_BAD_ARGUMENT', `header:${flat[i]}`, `invalid header ${JSON.stringify(flat[i])}`);
    }
  const dispatcher = vm.spec.httpCalls;
  const refusal = dispatcher ? dispatcher.refusal(cluster) : `unknown cluster "${cluster}" (no clusters: configured)`;
  if (refusal !== null)
    return refuse(vm, WasmResult.BadArgument, 'OUTRIGGER_HTTP_CALL_BAD_ARGUMENT', `cluster:${cluster}`, `${refusal}; add it under clusters: in the config`);
  for (const name of REQUIRED) {
    let found = false;
    for (let i = 0; i < headers.length; i += 2) if (headers[i] === name && headers[i + 1] !== '') found = true;
    if (!found)
      return refuse(
        vm,
        WasmResult.BadArgument,
        'OUTRIGGER_HTTP_CALL_BAD_ARGUMENT',
        `missing:${name}`,
        `missing pseudo-header ${name} (a call needs :method, :path and :authority)`,
      );
  }
  const calls = vm.httpCalls;
  if (calls.size >= MAX_HTTP_CALLS_IN_FLIGHT)
    return refuse(
      vm,
      WasmResult.InternalFailure,
      'OUTRIGGER_HTTP_CALL_LIMIT',
      'limit',
      `${MAX_HTTP_CALLS_IN_FLIGHT} calls already in flight on this filter instance (MAX_HTTP_CALLS_IN_FLIGHT); wait for responses before calling again`,
    );
  const { token, signal } = calls.add(vm.currentId);
  // The root context making the call (several share a vm_id's instance): the response goes to it.
  const root = vm.rootId;
  mem.writeU32(tokenOut, token);
  // A settled promise runs on an empty stack, never inside a host call; afterCall makes that the
  // rule's own guarantee rather than the event loop's.
  dispatcher!.dispatch({ cluster, headers, body, trailers, timeoutMs: timeoutMs >>> 0, signal }).then(
    (res) => {
      if (calls.settle(token)) vm.afterCall(() => vm.onHttpCallResponse?.(token, res, root));
    },
    (err: unknown) => {
      if (!calls.settle(token)) return;
      logFailure(vm, cluster, err);
      vm.afterCall(() => vm.onHttpCallResponse?.(token, null, root));
    },
  );
  return WasmResult.Ok;
}
