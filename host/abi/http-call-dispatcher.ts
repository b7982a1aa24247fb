// The seam behind proxy_http_call: who answers a filter's call to a named cluster. The proxy will
// answer with real upstreams (issue 13 adds the host calls); the test harness answers from the test
// (host/testing/mock-clusters.ts). Kept here, beside the other per-filter services of PluginSpec, so
// the host calls are written once against this interface and both answer the same way.

export interface HttpCallRequest {
  cluster: string;
  /** Flat [k, v, ...], pseudo-headers (":method", ":path", ":authority") included. */
  headers: string[];
  body: Buffer;
  trailers: string[];
  timeoutMs: number;
}

export interface HttpCallResponse {
  /** Flat [k, v, ...] with ":status" first. */
  headers: string[];
  body: Buffer;
  trailers: string[];
}

export interface HttpCallDispatcher {
  /** Rejects when the cluster is unknown or the call fails (the filter then sees a failed call). */
  dispatch(request: HttpCallRequest): Promise<HttpCallResponse>;
}
