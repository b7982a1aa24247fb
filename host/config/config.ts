// The validated configuration Outrigger runs with. The YAML contract and its defaults are documented
// in README.md ("Configuration"); load-config.ts turns a file into this shape or a clear error.

import type { FilterLimits } from '../abi/wasm-vm.js';
import type { BreakerConfig } from '../abi/crash-breaker.js';
import type { FailurePolicy } from '../chain/filter-instance.js';
import type { ClusterConfig } from './clusters-config.js';

export type LogLevelName = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface FilterConfig {
  name: string;
  /** Absolute path of the .wasm file. */
  path: string;
  /** As written in the config (relative to filters_dir). */
  file: string;
  rootId: string;
  vmId: string;
  /** Bytes handed to proxy_on_configure: a string as is, anything else as JSON. */
  configuration: Buffer;
  vmConfiguration: Buffer;
  onError: FailurePolicy;
  /** Log every non-Ok host-call result once per call site (the `debug` key). */
  debug: boolean;
  /** `limits`: CPU budgets per callback and start-up (ms), linear memory cap (MiB); defaults in limits.ts. */
  limits: FilterLimits;
  /** The crash-loop breaker: the filter's `breaker` over the top-level one over the defaults. */
  breaker: BreakerConfig;
  /** Reject a module that imports proxy_* / env.* functions Outrigger does not know. */
  strictImports: boolean;
}

export interface ListenAddress {
  host?: string;
  port?: number;
  socketPath?: string;
  /** As written, for logs. */
  text: string;
}

export interface OutriggerConfig {
  /** Absolute path of the file the config came from, or "<built-in demo>". */
  source: string;
  listen: ListenAddress;
  admin: ListenAddress | null;
  /** http(s)://host:port, unix:/path, or builtin:echo. */
  upstream: string;
  filtersDir: string;
  filters: FilterConfig[];
  /**
   * `services:` root-only plugins (Envoy's bootstrap WasmService, singleton): the keys of a filter
   * entry but on_error (they serve no requests); never in the chain. Names unique across both lists.
   */
  services: FilterConfig[];
  logLevel: LogLevelName;
  upstreamTimeoutMs: number;
  connectTimeoutMs: number;
  maxBufferedBody: number;
  filterHoldTimeoutMs: number;
  drainTimeoutMs: number;
  /** normalize_path: dot segments, repeated slashes and encoded unreserved characters normalized before the filters. */
  normalizePath: boolean;
  /** trust_forwarded_headers: keep the client's x-forwarded-proto instead of the listener's scheme. */
  trustForwardedHeaders: boolean;
  /** generate_request_id: give a request without x-request-id one before the filters run. */
  generateRequestId: boolean;
  clientHeaderTimeoutMs: number;
  clientBodyTimeoutMs: number;
  keepaliveTimeoutMs: number;
  upstreamMaxConnections: number;
  upstreamQueueTimeoutMs: number;
  /** Longest the event loop may be blocked before the watchdog ends the process; 0: off. */
  watchdogMs: number;
  /** Time every Nth filter callback for /metrics (1: all, 0: none). */
  callbackTimingSample: number;
  /** `clusters:`: named upstreams for proxy_http_call (clusters-config.ts). */
  clusters: ClusterConfig[];
}
