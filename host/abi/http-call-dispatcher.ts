// The seam behind proxy_http_call: who answers a filter's call to a named cluster. The proxy answers
// with real upstreams (host/http/clusters.ts, the `clusters:` config); the test harness answers from
// the test (host/testing/mock-clusters.ts). Kept here, beside the other per-filter services of
// PluginSpec, so the host calls (http-calls.ts) are written once against this interface and both
// answer the same way.

export interface HttpCallRequest {
  cluster: string;
  /** Flat [k, v, ...], pseudo-headers (":method", ":path", ":authority") included. */
  headers: string[];
  body: Buffer;
  trailers: string[];
  /** The filter's timeout; 0 means the cluster's (Envoy: none). */
  timeoutMs: number;
  /** Aborted when the call is cancelled (its context or instance went away): the dispatcher lets go of it. */
  signal?: AbortSignal;
}

export interface HttpCallResponse {
  /** Flat [k, v, ...] with ":status" first. */
  headers: string[];
  body: Buffer;
  trailers: string[];
}

/** Why a call got no response: the filter sees zero headers (as in Envoy) for each of them. */
export type HttpCallFailureKind = 'timeout' | 'refused' | 'reset' | 'too_large' | 'cancelled';

/** What dispatch() rejects with when the call got no response. */
export class HttpCallFailure extends Error {
  readonly kind: HttpCallFailureKind;
  constructor(kind: HttpCallFailureKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HttpCallFailure';
    this.kind = kind;
  }
}

export interface HttpCallDispatcher {
  /** Null when `cluster` can take an HTTP call, else why not (unknown name, a gRPC-only cluster): proxy_http_call answers BadArgument. */
  refusal(cluster: string): string | null;
  /** Rejects when the call fails (the filter then sees a failed call: zero headers). */
  dispatch(request: HttpCallRequest): Promise<HttpCallResponse>;
}
