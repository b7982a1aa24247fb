// The one seam between the filter chain and whatever runs a filter's code. The in-process Wasm VM
// implements it today; a worker-thread VM (for CPU deadlines) or a native test double can implement
// it later without the chain or the HTTP plumbing changing.

import type { HttpStream } from './http-stream.js';

export type FailurePolicy = 'fail_closed' | 'fail_open';

/** A filter failed a request: it trapped, aborted or exited during a callback, or held the stream too long. */
export class FilterFault extends Error {
  readonly filter: string;
  /** OUTRIGGER_FILTER_TRAP, or OUTRIGGER_FILTER_HOLD_TIMEOUT for a filter that held a stream too long. */
  readonly code: string;
  constructor(filter: string, message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options);
    this.name = 'FilterFault';
    this.filter = filter;
    this.code = options?.code ?? 'OUTRIGGER_FILTER_TRAP';
  }
}

/** Which per-request callbacks a filter has, so the chain can skip the ones it lacks. */
export interface FilterHooks {
  requestHeaders: boolean;
  requestBody: boolean;
  responseHeaders: boolean;
  responseBody: boolean;
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
  /** on_log, on_done, on_delete: the request is over. Never throws. */
  close(handle: unknown, stream: HttpStream): void;
}
