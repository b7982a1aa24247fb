// The proxy's clusters (`clusters:`): one undici keep-alive Pool per named upstream, answering
// proxy_http_call through the HttpCallDispatcher seam (abi/http-call-dispatcher.ts). A reload that
// changes a cluster swaps its pool: calls already sent finish on the old pool, which then closes
// (undici's close() waits for its requests); a removed cluster's pool closes the same way.

import { Pool } from 'undici';
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

  async dispatch(req: HttpCallRequest): Promise<HttpCallResponse> {
    const c = this.#clusters.get(req.cluster);
    if (!c || c.pool === null) throw new Error(this.refusal(req.cluster) ?? 'unusable cluster');
    const stats = this.#stats.get(req.cluster)!;
    const timeoutMs = req.timeoutMs > 0 ? Math.min(req.timeoutMs, c.config.timeoutMs) : c.config.timeoutMs;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout.signal]) : timeout.signal;
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
    let outcome: HttpCallOutcome = 'success';
    try {
      const res = await c.pool.request({
        method,
        path,
        headers,
        body: req.body.length ? req.body : null,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_HTTP_CALL_RESPONSE_BYTES) {
          res.body.destroy();
          throw new HttpCallFailure('too_large', `the response body of cluster "${req.cluster}" is over ${MAX_HTTP_CALL_RESPONSE_BYTES} bytes`);
        }
        chunks.push(chunk);
      }
      return {
        headers: [':status', String(res.statusCode), ...flatten(res.headers)],
        body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks),
        trailers: flatten(res.trailers),
      };
    } catch (err) {
      const failure =
        err instanceof HttpCallFailure
          ? err
          : new HttpCallFailure(
              failureKind(err, timeout.signal.aborted, req.signal?.aborted ?? false),
              `${req.cluster}: ${(err as Error).message ?? String(err)}`,
              {
                cause: err,
              },
            );
      outcome = failure.kind;
      throw failure;
    } finally {
      clearTimeout(timer);
      c.inFlight--;
      stats.inFlight--;
      stats.outcomes[outcome]++;
    }
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

/** undici's header object (arrays for repeated headers) as flat [k, v, ...]. */
function flatten(h: Record<string, string | string[] | undefined> | null | undefined): string[] {
  const out: string[] = [];
  if (!h) return out;
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) out.push(k, x);
    else out.push(k, v);
  }
  return out;
}
