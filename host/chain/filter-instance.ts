// The one seam between the filter chain and whatever runs a filter's code. The in-process Wasm VM
// implements it today; a worker-thread VM (for CPU deadlines) or a native test double can implement
// it later without the chain or the HTTP plumbing changing.

import type { HttpStream } from './http-stream.js';

export type FailurePolicy = 'fail_closed' | 'fail_open';

/**
 * How a filter's instance died: a WebAssembly trap or AssemblyScript abort (`trap`), a callback
 * stopped for running over its CPU budget (`deadline`), a trap while its linear memory was at its
 * cap (`memory`), or WASI proc_exit (`exit`). Counted per filter in /filters and /metrics.
 */
export type FaultKind = 'trap' | 'deadline' | 'memory' | 'exit';
export const FAULT_KINDS: readonly FaultKind[] = ['trap', 'deadline', 'memory', 'exit'];

/**
 * What a filter's instance is doing, as /filters, /readyz and /metrics show it: `active` (serving),
 * `degraded` (faulted recently; a fresh instance is being brought up after a backoff, requests meanwhile
 * get the on_error policy), `open` (the crash-loop breaker is open: on_error applies without running
 * the filter until a half-open trial succeeds). `rejected` and `missing` are the filter manager's
 * (the newest file could not be loaded / is gone; the last good version keeps serving).
 */
export type FilterHealthState = 'active' | 'degraded' | 'open';

/** A filter failed a request: it trapped, aborted or exited during a callback, or held the stream too long. */
export class FilterFault extends Error {
  readonly filter: string;
  /**
   * OUTRIGGER_FILTER_TRAP (the instance died), OUTRIGGER_FILTER_HOLD_TIMEOUT (held a stream too long),
   * OUTRIGGER_FILTER_DEGRADED (a fresh instance is not up yet: backoff), OUTRIGGER_FILTER_BREAKER_OPEN.
   */
  readonly code: string;
  /** What killed the instance, when one died (null for a hold timeout or an open breaker). */
  readonly kind: FaultKind | null;
  constructor(filter: string, message: string, options?: { cause?: unknown; code?: string; kind?: FaultKind | null }) {
    super(message, options);
    this.name = 'FilterFault';
    this.filter = filter;
    this.code = options?.code ?? 'OUTRIGGER_FILTER_TRAP';
    this.kind = options?.kind ?? null;
  }
}

/** Which per-request callbacks a filter has, so the chain can skip the ones it lacks. */
export interface FilterHooks {
  requestHeaders: boolean;
  requestBody: boolean;
  responseHeaders: boolean;
  responseBody: boolean;
  /** proxy_on_request_trailers / proxy_on_response_trailers (optional: absent means none). */
  requestTrailers?: boolean;
  responseTrailers?: boolean;
}

/**
 * A started filter: root context created, configured. Per-request methods return the callback's
 * status (0 = continue, anything else = stop, as the ABI defines) or throw FilterFault.
 * `open` returns an opaque handle passed back to every other call for that request.
 */
export interface FilterInstance {
  readonly name: string;
  readonly policy: FailurePolicy;
  readonly hooks: FilterHooks;
  open(stream: HttpStream): unknown;
  requestHeaders(handle: unknown, stream: HttpStream, endOfStream: boolean): number;
  requestBody(handle: unknown, stream: HttpStream, size: number, endOfStream: boolean): number;
  responseHeaders(handle: unknown, stream: HttpStream, endOfStream: boolean): number;
  responseBody(handle: unknown, stream: HttpStream, size: number, endOfStream: boolean): number;
  /** Only called when `hooks.requestTrailers` / `hooks.responseTrailers` is true; the map is on the stream. */
  requestTrailers?(handle: unknown, stream: HttpStream): number;
  responseTrailers?(handle: unknown, stream: HttpStream): number;
  /** on_log, on_done, on_delete: the request is over. Never throws. */
  close(handle: unknown, stream: HttpStream): void;
}
