// Every hard limit of the host in one place, each with the reason for its value.

/** Bytes of a guest-supplied header map (cpp-host PROXY_WASM_HOST_PAIRS_MAX_BYTES). */
export const MAX_PAIRS_BYTES = 1024 * 1024;
/** Entries in a guest-supplied header map (cpp-host PROXY_WASM_HOST_PAIRS_MAX_COUNT). */
export const MAX_PAIRS_COUNT = 1024;
/** One random_get call (cpp-host's limit); larger requests get EINVAL. */
export const MAX_RANDOM_GET_BYTES = 64 * 1024;
/** A single proxy_log message; longer ones are cut so a runaway filter cannot flood the log. */
export const MAX_LOG_MESSAGE_BYTES = 64 * 1024;
/** Default cap on a body a filter buffers (Envoy's default connection buffer limit is 1 MiB). */
export const DEFAULT_MAX_BUFFERED_BODY_BYTES = 1024 * 1024;
/** Default time a filter may hold a request (a stop only it can resume) before its policy applies. */
export const DEFAULT_FILTER_HOLD_TIMEOUT_MS = 30_000;
/** Default time to wait for the upstream's response headers, and between body chunks. */
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 30_000;
/** Default time to wait for a TCP/unix connect to the upstream. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Default time graceful shutdown waits for in-flight requests before closing them. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/**
 * Default cap on connections to one upstream (`upstream_max_connections`): Envoy's circuit-breaker
 * default. High enough that stalled clients holding connections do not starve the others, bounded so
 * a flood cannot open sockets without end.
 */
export const DEFAULT_UPSTREAM_MAX_CONNECTIONS = 1024;
/** Default wait for a free upstream connection before 503 OUTRIGGER_UPSTREAM_OVERLOADED (Envoy-like fail fast). */
export const DEFAULT_UPSTREAM_QUEUE_TIMEOUT_MS = 5_000;
/** Default time for a complete request head (`client_header_timeout_ms`): slowloris defence, as nginx's 60 s but tighter. */
export const DEFAULT_CLIENT_HEADER_TIMEOUT_MS = 30_000;
/** Default longest gap between request body bytes (`client_body_timeout_ms`), as nginx's client_body_timeout. */
export const DEFAULT_CLIENT_BODY_TIMEOUT_MS = 60_000;
/** Default idle time of downstream keep-alive connections (`keepalive_timeout_ms`); above typical LB idle timeouts (60 s). */
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 65_000;
/**
 * How often node checks connections against the header timeout. Its default (30 s) would let a head
 * timeout fire up to 30 s late; a tenth of the timeout, within these bounds, keeps the check cheap.
 */
export const CONNECTION_CHECK_MIN_MS = 50;
export const CONNECTION_CHECK_MAX_MS = 1_000;
/**
 * Time one filter callback in N, picked at random, for outrigger_filter_callback_duration_seconds (1:
 * every one, 0: none). Timing every callback cost ~6 us a request under load (two clock reads per
 * callback, ~12 callbacks for three filters); one in 16 is under one timed callback a request, and
 * at 100 requests a second still ~375 samples a minute per filter and callback kind, enough for a
 * p99 over a few minutes (a quieter proxy that wants its latencies exact sets 1). See host/chain/callback-timings.ts and the README's Performance
 * section for the measured cost.
 */
export const DEFAULT_CALLBACK_TIMING_SAMPLE = 16;
/**
 * Crash-loop breaker defaults (`breaker:`, crash-breaker.ts). Five faults in ten seconds is a filter
 * failing on most requests, not one bad request; a first retry after 100 ms costs a broken filter
 * little and a healed one less; 30 s caps the wait so a fixed upstream condition is noticed soon.
 */
export const DEFAULT_BREAKER_MAX_FAULTS = 5;
export const DEFAULT_BREAKER_WINDOW_MS = 10_000;
export const DEFAULT_BREAKER_BACKOFF_MS = 100;
export const DEFAULT_BREAKER_MAX_BACKOFF_MS = 30_000;
/** A watched file must have had no write for this long before it is loaded (write-in-place). */
export const RELOAD_QUIET_MS = 25;
/** ...but a file written continuously is loaded (or rejected) after this long anyway. */
export const RELOAD_MAX_SETTLE_MS = 2_000;
/** Periodic rescan that catches events the watcher missed. */
export const RESCAN_INTERVAL_MS = 2_000;
/** Default CPU budget of one callback on the data path, timers included (limits.cpu_ms). */
export const DEFAULT_CPU_MS = 100;
/** Default CPU budget of start-up: _initialize/_start, proxy_on_vm_start, proxy_on_configure (limits.start_ms). */
export const DEFAULT_START_MS = 2_000;
/** Default cap on a filter instance's linear memory (limits.memory_mb); the example filters use under 1 MiB. */
export const DEFAULT_MEMORY_MB = 64;
/**
 * Budget checks between two clock reads. A check costs a wasm call and a global decrement
 * (~1-2 ns); a clock read ~40 ns. 1000 keeps clock reads under a few % of a tight loop's time, and
 * keeps the stop prompt even when each loop iteration makes a slow host call (1000 × 10 µs = 10 ms).
 */
export const BUDGET_CHECK_FUEL = 1_000;
/** An instance whose memory grew past this share of its cap is replaced once idle (its heap shrinks back). */
export const MEMORY_REPLACE_FRACTION = 0.75;
/**
 * After dropped filter instances released this much linear memory between them, one major GC gives it
 * back to the system (host/abi/wasm-memory-reclaim.ts: V8 frees wasm memory only at a major GC, which
 * dropping a Memory never starts). 8 MiB: an eighth of the default memory_mb, above what a reload
 * of a few typical filters (64 KiB-1 MiB each) releases, so ordinary swaps rarely cost a forced GC.
 */
export const RECLAIM_MIN_BYTES = 8 * 1048576;
/**
 * Wait after the release before collecting: a reload dropping many instances pays one GC, and what
 * still refers to a dropped instance for a moment (the faulted request finishing its response and
 * its logging, under load) is gone by then, so the GC finds the memory dead.
 */
export const RECLAIM_DELAY_MS = 1_000;
/**
 * At most one such GC per 10 s: a full GC measured ~40 ms of CPU in bench/sandbox.mjs (a proxy with 21
 * filters), so a filter crash-looping at its cap costs the loop at most ~0.4 % in these pauses.
 */
export const RECLAIM_MIN_INTERVAL_MS = 10_000;
/**
 * Listener rejections (400/405/408/413/414/431) logged per second and reason; the rest are counted in /metrics and
 * summed up in the next line logged, so a flood of bad requests cannot flood the log.
 */
export const REJECTION_LOG_PER_SECOND = 10;
/**
 * `outrigger build --watch` compiles once no source change came for this long: editors save in several
 * writes (and formatters rewrite right after), and one build per save is what the user wants. Small
 * next to a compile (~0.5-2 s), so it hardly adds to save-to-live.
 */
export const BUILD_WATCH_QUIET_MS = 50;
/**
 * Default `watchdog_ms`: how long the event loop may be blocked before the watchdog thread ends the
 * process. Far above any healthy pause (a major GC or a large compile is tens of ms; a1's per-callback
 * deadline stops a looping filter in hundreds), short enough that an orchestrator restarts a stuck
 * pod long before its liveness probe gives up (Kubernetes: 3 × 10 s by default).
 */
export const DEFAULT_WATCHDOG_MS = 5_000;
/** Heartbeat/check period bounds: watchdog_ms / 10, so it fires within ~10 % of watchdog_ms. */
export const WATCHDOG_MIN_TICK_MS = 20;
export const WATCHDOG_MAX_TICK_MS = 250;
/** After SIGTERM/SIGINT the process ends within drain_timeout_ms plus this, whatever the loop does. */
export const SHUTDOWN_GRACE_MS = 1_000;
/** Longest busy-loop the test hook (OUTRIGGER_TEST_HOOKS=1, x-outrigger-test-block-ms) runs. */
export const TEST_HOOK_MAX_BLOCK_MS = 600_000;
/**
 * Shared data (host/abi/shared-data.ts), per vm_id. Envoy bounds none of these; here the store lives
 * in the proxy's own heap, outside every filter's memory_mb, so without a cap one filter could grow
 * the process without bound through it. A value as large as 1 MiB; 10 000 keys (a rate limiter's
 * buckets for that many client addresses); 64 MiB of keys and values together, as one filter's
 * linear memory by default. Over a cap a set answers InternalFailure (a too-large value BadArgument)
 * and the store is unchanged; `debug: true` logs which.
 */
export const SHARED_DATA_MAX_VALUE_BYTES = 1024 * 1024;
export const SHARED_DATA_MAX_KEYS = 10_000;
export const SHARED_DATA_MAX_BYTES = 64 * 1024 * 1024;
/**
 * Shared queues (host/abi/shared-queues.ts). Envoy bounds none of these; a host in one process must,
 * or a producer whose consumer is gone grows the proxy until it dies. An item as large as a shared
 * data value (1 MiB); 10 000 items and 64 MiB per queue hold minutes of a busy producer's backlog
 * (a deny-list update, a batch of log lines) without a consumer; 1 000 names per vm_id, as queues are
 * never deleted (as in Envoy). A full queue refuses the item (InternalFailure) and says so in the log.
 */
export const SHARED_QUEUE_MAX_ITEM_BYTES = 1024 * 1024;
export const SHARED_QUEUE_MAX_ITEMS = 10_000;
export const SHARED_QUEUE_MAX_BYTES = 64 * 1024 * 1024;
export const SHARED_QUEUES_PER_VM_ID = 1_000;
/**
 * gRPC calls and streams one filter instance may have in flight (proxy_grpc_call / _stream answer
 * InternalFailure past it). Envoy has no such cap; each holds an HTTP/2 stream and its buffers, so a
 * filter leaking them (one per request, never closed) must hit a wall long before memory does.
 */
export const MAX_GRPC_CALLS_PER_INSTANCE = 1_000;
/** Streams closed by the server but not yet by the filter that are remembered (proxy_grpc_close on them answers Ok, as Envoy). */
export const MAX_GRPC_CLOSED_STREAMS_KEPT = 1_000;
/** Largest gRPC response message accepted: gRPC's own default max receive size (4 MiB); a larger one closes with ResourceExhausted (8). */
export const MAX_GRPC_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Default wait for the HTTP/2 connection of a gRPC cluster before a call closes with Unavailable (14): the upstream's connect default. */
export const DEFAULT_GRPC_CONNECT_TIMEOUT_MS = DEFAULT_CONNECT_TIMEOUT_MS;
/**
 * Default `timeout_ms` of a cluster: the longest a proxy_http_call to it may take (a filter's own
 * timeout is capped by it). As upstream_timeout_ms: a call that outlives it holds a request anyway.
 */
export const DEFAULT_CLUSTER_TIMEOUT_MS = 30_000;
/** Default `max_connections` of a cluster's keep-alive pool: Envoy's circuit-breaker default, as upstream_max_connections. */
export const DEFAULT_CLUSTER_MAX_CONNECTIONS = 1024;
/**
 * proxy_http_call calls in flight per filter instance; one more gets InternalFailure and a log line
 * (OUTRIGGER_HTTP_CALL_LIMIT). Each pending call holds a socket (or a pool queue slot) and its
 * response; a filter that calls without waiting (a loop, a call per body chunk) must not open
 * sockets without end. Four times the default pool bound: a filter calling once per request under
 * the default connection caps never reaches it.
 */
export const MAX_HTTP_CALLS_IN_FLIGHT = 4096;
/**
 * Bytes of one proxy_http_call response body the host buffers for proxy_on_http_call_response; a
 * longer one fails the call (zero headers, as a reset). Sixteen times max_buffered_body's default: a
 * config or deny-list fetch fits, a runaway stream does not eat the heap.
 */
export const MAX_HTTP_CALL_RESPONSE_BYTES = 16 * 1024 * 1024;
/**
 * Streams one HTTP/2 client session may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). RFC 9113
 * §6.5.2 advises no less than 100; nginx uses 128. Each stream is a request with its filter contexts
 * and an upstream request, so a bound per connection keeps one client from taking them all.
 */
export const H2_MAX_CONCURRENT_STREAMS = 100;
/**
 * Bytes of headers one HTTP/2 request may carry (SETTINGS_MAX_HEADER_LIST_SIZE: names, values and 32
 * bytes per field). 16 KiB plus the per-field overhead of ~60 fields: about what node's 16 KiB cap on
 * an HTTP/1.1 head lets through, so a request refused on one protocol is not accepted on the other.
 */
export const H2_MAX_HEADER_LIST_BYTES = 16 * 1024 + 2 * 1024;
/**
 * Streams Outrigger opens at once on one HTTP/2 upstream connection (h2c://), so up to
 * upstream_max_connections × this requests are in flight before one queues. 100 is the usual
 * server's SETTINGS_MAX_CONCURRENT_STREAMS (nginx 128, Envoy and node unbounded), and undici's default.
 */
export const H2_UPSTREAM_STREAMS_PER_CONNECTION = 100;

/**
 * Bytes the `uncompress` foreign function may inflate to. Its result is copied into the guest, whose
 * memory is capped at limits.memory_mb (64 MiB by default): a zip bomb stops here, with
 * SerializationFailure, instead of filling the host's heap first.
 */
export const MAX_FOREIGN_UNCOMPRESSED_BYTES = 16 * 1024 * 1024;
