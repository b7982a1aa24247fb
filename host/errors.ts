// Every error Outrigger reports to a user has a stable code and says what to do about it.

export type ErrorCode =
  | 'OUTRIGGER_CONFIG_READ'
  | 'OUTRIGGER_CONFIG_YAML'
  | 'OUTRIGGER_CONFIG_INVALID'
  | 'OUTRIGGER_FILTER_FILE'
  | 'OUTRIGGER_WASM_COMPILE'
  | 'OUTRIGGER_WASM_NO_ABI'
  | 'OUTRIGGER_WASM_LINK'
  | 'OUTRIGGER_WASM_UNKNOWN_IMPORTS'
  | 'OUTRIGGER_WASM_NO_ALLOCATOR'
  | 'OUTRIGGER_WASM_START'
  | 'OUTRIGGER_WASM_MEMORY_OVER_CAP'
  | 'OUTRIGGER_FILTER_DEADLINE'
  | 'OUTRIGGER_FILTER_VM_START'
  | 'OUTRIGGER_FILTER_CONFIGURE'
  /** A root-only plugin (it cannot make an HTTP context) listed under filters:; it belongs under services:. */
  | 'OUTRIGGER_FILTER_ROOT_ONLY'
  | 'OUTRIGGER_LISTEN'
  | 'OUTRIGGER_USAGE'
  // Listener rejections (x-outrigger-error and logs, not thrown): what the client sent is refused.
  /** Malformed request, bad target, doubled or invalid Host, path above the root: fix the client. */
  | 'OUTRIGGER_BAD_REQUEST'
  /** CONNECT: Outrigger is a reverse proxy and does not tunnel; point the client at the service itself. */
  | 'OUTRIGGER_METHOD_NOT_SUPPORTED'
  /** The request line is longer than node's --max-http-header-size allows. */
  | 'OUTRIGGER_URI_TOO_LONG'
  /** The request head is larger than node's --max-http-header-size allows. */
  | 'OUTRIGGER_HEADERS_TOO_LARGE'
  /** Chunk extensions beyond node's 16 KiB cap (a known denial-of-service pattern). */
  | 'OUTRIGGER_CHUNK_EXTENSIONS_TOO_LARGE'
  /** 503: no upstream connection free within upstream_queue_timeout_ms; raise upstream_max_connections or scale the upstream. */
  | 'OUTRIGGER_UPSTREAM_OVERLOADED'
  /** 408: the client's head or body did not arrive in time (client_header_timeout_ms / client_body_timeout_ms). */
  | 'OUTRIGGER_CLIENT_TIMEOUT'
  /** 413: a filter buffered a request body over max_buffered_body; raise it, or make the filter stream (Continue). */
  | 'OUTRIGGER_REQUEST_BODY_TOO_LARGE'
  /** 500: a filter buffered a response body over max_buffered_body; raise it, or make the filter stream (Continue). */
  | 'OUTRIGGER_RESPONSE_BODY_TOO_LARGE'
  // outrigger new / outrigger build (host/cli/)
  | 'OUTRIGGER_NEW_EXISTS'
  | 'OUTRIGGER_BUILD_PROJECT'
  | 'OUTRIGGER_BUILD'
  /** `outrigger test`: a fixture file that cannot be read, parsed or started. */
  | 'OUTRIGGER_TEST_FIXTURE'
  /** The watchdog thread ended a process whose event loop was blocked longer than watchdog_ms. */
  | 'OUTRIGGER_WATCHDOG'
  /** A SIGTERM/SIGINT shutdown ran past drain_timeout_ms plus the grace: the watchdog ended it. */
  | 'OUTRIGGER_SHUTDOWN_DEADLINE'
  /** A shared queue is at its cap (limits.ts SHARED_QUEUE_*): enqueues get InternalFailure until its consumer dequeues. */
  | 'OUTRIGGER_SHARED_QUEUE_FULL'
  // gRPC callouts (host/abi/grpc-calls.ts, host/http/grpc-client.ts), logged, never thrown:
  /** proxy_grpc_call/_stream named a cluster that is not configured (or a google_grpc service): add it under clusters:. */
  | 'OUTRIGGER_GRPC_CLUSTER'
  /** A gRPC call to a cluster failed at the transport (connect, TLS/ALPN, GOAWAY, reset): the filter got Unavailable/Internal. */
  | 'OUTRIGGER_GRPC_TRANSPORT';

/**
 * Codes of the log lines and FilterFaults of a filter failing on the data path (not OutriggerErrors):
 * the instance died (TRAP), it is being replaced after a backoff (DEGRADED), its crash-loop breaker
 * is open / half-open / closed again, a response was cut because a policy applied after it started.
 */
export type FilterFaultCode =
  | 'OUTRIGGER_FILTER_TRAP'
  | 'OUTRIGGER_FILTER_HOLD_TIMEOUT'
  | 'OUTRIGGER_FILTER_DEGRADED'
  | 'OUTRIGGER_FILTER_BREAKER_OPEN'
  | 'OUTRIGGER_FILTER_BREAKER_HALF_OPEN'
  | 'OUTRIGGER_FILTER_BREAKER_CLOSED'
  | 'OUTRIGGER_FILTER_RESTARTED'
  | 'OUTRIGGER_RESPONSE_ABORTED'
  /** A filter called a foreign function Outrigger does not have (NotFound); see abi/README.md for the ones it has. */
  | 'OUTRIGGER_FOREIGN_FUNCTION_UNKNOWN';

/**
 * Codes of the log lines of a filter's outbound calls (proxy_http_call, host/abi/http-calls.ts): a
 * call refused for a bad argument (unknown cluster, missing :method/:path/:authority, bad pairs: fix
 * the filter or add the cluster under `clusters:`), refused at the in-flight cap (the filter calls
 * without waiting for responses), or sent and failed (timeout, refused, reset, too_large: check the
 * cluster's service; the filter saw zero headers).
 */
export type HttpCallLogCode = 'OUTRIGGER_HTTP_CALL_BAD_ARGUMENT' | 'OUTRIGGER_HTTP_CALL_LIMIT' | 'OUTRIGGER_HTTP_CALL_FAILED';

export class OutriggerError extends Error {
  readonly code: ErrorCode;
  /** What the user can do about it. */
  readonly hint: string;

  constructor(code: ErrorCode, message: string, hint = '', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OutriggerError';
    this.code = code;
    this.hint = hint;
  }

  /** One line for a terminal or a log: "CODE: message (hint)". */
  describe(): string {
    return `${this.code}: ${this.message}${this.hint ? `\n  hint: ${this.hint}` : ''}`;
  }
}
