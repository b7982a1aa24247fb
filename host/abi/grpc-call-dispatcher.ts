// The seam behind proxy_grpc_call / proxy_grpc_stream: who carries a filter's gRPC call to a named
// cluster. The proxy answers over HTTP/2 (host/http/grpc-client.ts); the test harness can answer
// from the test (host/testing/mock-grpc-clusters.ts). The host calls (grpc-calls.ts) are written
// once against this interface, as proxy_http_call is against http-call-dispatcher.ts.
//
// A unary call is a stream with one message sent and the local side closed at once; the host calls
// tell the two apart (Envoy calls back differently), the transport does not need to.

export interface GrpcCallRequest {
  cluster: string;
  /** Fully qualified service ("package.Service"): the path is `/${service}/${method}`. */
  service: string;
  method: string;
  /** Flat [k, v, ...] initial metadata (lower-case keys), sent as request headers. */
  metadata: string[];
  /** Deadline of the whole call (also sent as grpc-timeout); 0: none, as in Envoy. */
  timeoutMs: number;
  /** A unary call (proxy_grpc_call): the cluster's timeout_ms bounds it. Streams are long-lived: only their own deadline does. */
  unary: boolean;
  /** :authority to send instead of the cluster's host (a GrpcService's envoy_grpc.authority). */
  authority?: string;
}

/**
 * What the transport reports, at most once each except `message`, in this order, always from the
 * event loop (never during start/send/close) and never after `close` or after the caller cancelled.
 */
export interface GrpcStreamEvents {
  /** The response headers (flat, lower-case, pseudo-headers dropped). */
  initialMetadata(flat: string[]): void;
  /** One length-prefixed message's payload. */
  message(bytes: Buffer): void;
  /** The trailers (or the headers of a trailers-only response), grpc-status included. */
  trailingMetadata(flat: string[]): void;
  /** The end: a gRPC status code (0-16, Envoy's codes) and its message. Always the last event. */
  close(status: number, message: string): void;
}

export interface GrpcCallStream {
  /** Sends one message; `endStream` half-closes after it. Ignored once the local side is closed. */
  send(message: Buffer, endStream: boolean): void;
  /** Half-closes the local side (no more messages); the response keeps coming. */
  close(): void;
  /** Resets the call; no event follows. */
  cancel(): void;
}

export interface GrpcCallDispatcher {
  /** Whether `name` is a cluster gRPC calls may go to (an unknown one fails the host call at once). */
  hasCluster(name: string): boolean;
  /** Starts a call on a known cluster. Failures arrive as `close` with a gRPC status, never as a throw. */
  start(request: GrpcCallRequest, events: GrpcStreamEvents): GrpcCallStream;
}
