// The proxy's clusters (`clusters:`): one undici keep-alive Pool per named upstream, answering
// proxy_http_call through the HttpCallDispatcher seam (abi/http-call-dispatcher.ts). A reload that
// changes a cluster swaps its pool: calls already sent finish on the old pool, which then closes
// (undici's close() waits for its requests); a removed cluster's pool closes the same way.

import { Pool, util as undiciUtil, type Dispatcher } from 'undici';
import {
  HttpCallFailure,
  type HttpCallDispatcher,
  type HttpCallFailureKind,
  type HttpCallRequest,
  type HttpCallResponse,
} from '../abi/http-call-dispatcher.js';
import { clusterScheme } from '../config/cluster-schemes.js';
import { clusterKey, type ClusterConfig } from '../config/clusters-config.js';
import { DEFAULT_CONNECT_TIMEOUT_MS, MAX_HTTP_CALL_RESPONSE_BYTES } from '../limits.js';

/** Outcomes counted per cluster on /metrics (outrigger_http_calls_total). */
export const HTTP_CALL_OUTCOMES = ['success', 'timeout', 'refused', 'reset', 'too_large', 'cancelled'] as const;
export type HttpCallOutcome = (typeof HTTP_CALL_OUTCOMES)[number];

/**
 * Headers of a filter's call that describe a connection, not the message: undici refuses them
 * (it frames the request itself), so they are dropped rather than failing the call.
 */
const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'te', 'trailer', 'host', 'content-length']);

interface Cluster {
  config: ClusterConfig;
  key: string;
  /** Null for a cluster proxy_http_call may not use (h2c: gRPC only). */
  pool: Pool | null;
  inFlight: number;
}

interface ClusterStats {
  outcomes: Record<HttpCallOutcome, number>;
  inFlight: number;
}

export class ClusterRegistry implements HttpCallDispatcher {
  #clusters = new Map<string, Cluster>();
  /** By cluster name, kept across pool swaps (counters never go back). */
  readonly #stats = new Map<string, ClusterStats>();
  readonly #connectTimeoutMs: number;

  constructor(clusters: readonly ClusterConfig[], connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS) {
    this.#connectTimeoutMs = connectTimeoutMs;
    this.apply(clusters);
  }

  /** The configured cluster of that name (for gRPC calls and the admin API), or undefined. */
  get(name: string): ClusterConfig | undefined {
    return this.#clusters.get(name)?.config;
  }

  get names(): string[] {
    return [...this.#clusters.keys()];
  }

  /** Takes a new `clusters:` list (start-up, reload). Unchanged clusters keep their pools. */
  apply(configs: readonly ClusterConfig[]): { added: string[]; changed: string[]; removed: string[] } {
    const next = new Map<string, Cluster>();
    const added: string[] = [];
    const changed: string[] = [];
    for (const config of configs) {
      const key = clusterKey(config);
      const prev = this.#clusters.get(config.name);
      if (prev && prev.key === key) {
        next.set(config.name, prev);
        continue;
      }
      (prev ? changed : added).push(config.name);
      next.set(config.name, { config, key, pool: this.#pool(config), inFlight: 0 });
    }
    const removed: string[] = [];
    for (const [name, old] of this.#clusters) {
      if (next.get(name) === old) continue;
      if (!next.has(name)) removed.push(name);
      // Graceful: requests already on the pool complete, then its sockets close.
      void old.pool?.close().catch(() => undefined);
    }
    this.#clusters = next;
    for (const name of next.keys()) if (!this.#stats.has(name)) this.#stats.set(name, { outcomes: zeroOutcomes(), inFlight: 0 });
    return { added, changed, removed };
  }

  #pool(c: ClusterConfig): Pool | null {
    if (!clusterScheme(c.url)?.httpCalls) return null;
    return new Pool(c.origin, {
      connections: c.maxConnections,
      keepAliveTimeout: 4_000,
      connectTimeout: Math.min(this.#connectTimeoutMs, c.timeoutMs),
      ...(c.socketPath !== null ? { socketPath: c.socketPath } : {}),
    });
  }

  refusal(name: string): string | null {
    const c = this.#clusters.get(name);
    if (!c) {
      const known = this.names;
      return `unknown cluster "${name}" (${known.length ? `configured: ${known.join(', ')}` : 'no clusters: configured'})`;
    }
    if (c.pool === null) return `cluster "${name}" is ${c.config.url}: an ${c.config.transport} cluster takes gRPC calls, not proxy_http_call`;
    return null;
  }

  /**
   * Sent with undici's raw handler interface, as the data path's upstream requests are: with
   * pool.request() (a body stream read with for await, AbortSignal.any for cancel + timeout) a call
   * cost the proxy several times a proxied request in CPU (bench/ext-authz.mjs).
   */
  dispatch(req: HttpCallRequest): Promise<HttpCallResponse> {
    const c = this.#clusters.get(req.cluster);
    if (!c || c.pool === null) return Promise.reject(new Error(this.refusal(req.cluster) ?? 'unusable cluster'));
    const pool = c.pool;
    const stats = this.#stats.get(req.cluster)!;
    const timeoutMs = req.timeoutMs > 0 ? Math.min(req.timeoutMs, c.config.timeoutMs) : c.config.timeoutMs;
    let method = 'GET';
    let path = '/';
    const headers: string[] = [];
    const h = req.headers;
    for (let i = 0; i < h.length; i += 2) {
      const k = h[i];
      if (k === ':method') method = h[i + 1];
      else if (k === ':path') path = h[i + 1];
      else if (k === ':authority') headers.push('host', h[i + 1]);
      else if (k[0] === ':' || CONNECTION_HEADERS.has(k)) continue;
      else headers.push(k, h[i + 1]);
    }
    c.inFlight++;
    stats.inFlight++;
    return new Promise<HttpCallResponse>((resolve, reject) => {
      let abort: ((err?: Error) => void) | null = null;
      let done = false;
      let status = 0;
      let flat: string[] = [];
      const chunks: Buffer[] = [];
      let size = 0;
      const signal = req.signal;
      const settle = (outcome: HttpCallOutcome, err: HttpCallFailure | null, res: HttpCallResponse | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onCancel);
        c.inFlight--;
        stats.inFlight--;
        stats.outcomes[outcome]++;
        if (err !== null) {
          abort?.(err);
          reject(err);
        } else resolve(res!);
      };
      const fail = (kind: HttpCallFailureKind, message: string, cause?: unknown) =>
        settle(kind, new HttpCallFailure(kind, `${req.cluster}: ${message}`, cause === undefined ? undefined : { cause }), null);
      const onCancel = () => fail('cancelled', 'the call was cancelled');
      const timer = setTimeout(() => fail('timeout', `no complete response within ${timeoutMs} ms`), timeoutMs);
      if (signal) {
        if (signal.aborted) {
          onCancel();
          return;
        }
        signal.addEventListener('abort', onCancel, { once: true });
      }
      pool.dispatch({ method, path, headers, body: req.body.length ? req.body : null, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }, {
        onConnect(a: (err?: Error) => void) {
          if (done) a(new Error('call already settled'));
          else abort = a;
        },
        onHeaders(statusCode: number, raw: Buffer[]) {
          if (statusCode < 200) return true;
          status = statusCode;
          flat = new Array(raw.length);
          for (let i = 0; i < raw.length; i += 2) {
            flat[i] = undiciUtil.headerNameToString(raw[i]);
            flat[i + 1] = raw[i + 1].toString('latin1');
          }
          return true;
        },
        onData(chunk: Buffer) {
          size += chunk.length;
          if (size > MAX_HTTP_CALL_RESPONSE_BYTES) fail('too_large', `the response body is over ${MAX_HTTP_CALL_RESPONSE_BYTES} bytes`);
          else chunks.push(chunk);
          return true;
        },
        onComplete(trailers: Buffer[] | string[] | null) {
          const t: string[] = [];
          if (trailers)
            for (let i = 0; i < trailers.length; i += 2) t.push(undiciUtil.headerNameToString(trailers[i] as Buffer), trailers[i + 1].toString('latin1'));
          settle('success', null, {
            headers: [':status', String(status), ...flat],
            body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks),
            trailers: t,
          });
        },
        onError(err: Error) {
          fail(failureKind(err, false, false), err.message, err);
        },
      } as Dispatcher.DispatchHandler);
    });
  }

  /** For /metrics: calls by cluster and outcome, and calls in flight. */
  stats(): ReadonlyMap<string, Readonly<ClusterStats>> {
    return this.#stats;
  }

  /** Shutdown: every pool closed at once (the filters that could wait for calls are gone). */
  async close(): Promise<void> {
    const pools = [...this.#clusters.values()].map((c) => c.pool);
    this.#clusters = new Map();
    await Promise.all(pools.map((p) => p?.destroy().catch(() => undefined)));
  }
}

function zeroOutcomes(): Record<HttpCallOutcome, number> {
  return { success: 0, timeout: 0, refused: 0, reset: 0, too_large: 0, cancelled: 0 };
}

function failureKind(err: unknown, timedOut: boolean, cancelled: boolean): HttpCallFailureKind {
  if (cancelled) return 'cancelled';
  const code = (err as { code?: string }).code;
  if (timedOut || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return 'timeout';
  if (code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'refused';
  return 'reset';
}
