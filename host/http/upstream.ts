// The upstream: one undici keep-alive pool to an http:// origin or a unix socket, or (h2c://) an
// HTTP/2 origin with prior knowledge through undici's own h2c support (allowH2 + useH2c: streams
// multiplexed on up to upstream_max_connections connections). Requests are dispatched with undici's
// raw handler interface so bodies stream in both directions with back-pressure and nothing is
// parsed twice.

import { Client, Pool, type Dispatcher } from 'undici';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_UPSTREAM_MAX_CONNECTIONS,
  DEFAULT_UPSTREAM_QUEUE_TIMEOUT_MS,
  DEFAULT_UPSTREAM_TIMEOUT_MS,
  H2_UPSTREAM_STREAMS_PER_CONNECTION,
} from '../limits.js';

export interface UpstreamOptions {
  /** http://host:port, https://host:port, h2c://host:port or unix:/path/to.sock */
  target: string;
  timeoutMs?: number;
  connectTimeoutMs?: number;
  /** Bound on the pool (`upstream_max_connections`). */
  maxConnections?: number;
  /** Longest wait for a free connection (`upstream_queue_timeout_ms`). */
  queueTimeoutMs?: number;
}

export class Upstream {
  readonly target: string;
  readonly pool: Pool;
  /** What goes in the host header when the request has none, and what logs print. */
  readonly authority: string;
  /** Response headers timeout and longest gap in the body (upstream_timeout_ms). */
  readonly timeoutMs: number;
  readonly maxConnections: number;
  /** Requests that may be in flight before one waits (maxConnections, times the streams per connection over HTTP/2). */
  readonly capacity: number;
  /** The origin speaks HTTP/2 (h2c://): trailers may follow any body, `te: trailers` is passed on. */
  readonly http2: boolean;
  readonly queueTimeoutMs: number;
  /**
   * Requests dispatched and not yet done. undici's pool runs one request per connection (no
   * pipelining), so once this reaches maxConnections the next request waits in the pool's queue:
   * counting here is O(1), where pool.stats walks every connection.
   */
  active = 0;
  readonly #origin: string;
  readonly #options: Pool.Options;

  constructor(opts: UpstreamOptions) {
    this.target = opts.target;
    const timeout = opts.timeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS;
    this.timeoutMs = timeout;
    this.maxConnections = opts.maxConnections ?? DEFAULT_UPSTREAM_MAX_CONNECTIONS;
    this.queueTimeoutMs = opts.queueTimeoutMs ?? DEFAULT_UPSTREAM_QUEUE_TIMEOUT_MS;
    const common = {
      connections: this.maxConnections,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      keepAliveTimeout: 4_000,
      connectTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    };
    this.http2 = opts.target.startsWith('h2c://');
    this.capacity = this.http2 ? this.maxConnections * H2_UPSTREAM_STREAMS_PER_CONNECTION : this.maxConnections;
    if (this.http2) {
      const url = new URL(opts.target);
      this.authority = url.host;
      this.#origin = `http://${url.host}`;
      const h2 = { pipelining: H2_UPSTREAM_STREAMS_PER_CONNECTION, maxConcurrentStreams: H2_UPSTREAM_STREAMS_PER_CONNECTION, allowH2: true };
      this.#options = { ...common, ...h2, connect: { useH2c: true } as Pool.Options['connect'] };
      this.pool = new Pool(this.#origin, this.#options);
    } else if (opts.target.startsWith('unix:')) {
      const socketPath = opts.target.slice('unix:'.length);
      this.authority = 'localhost';
      this.#origin = 'http://localhost';
      this.#options = { ...common, socketPath };
      this.pool = new Pool(this.#origin, this.#options);
    } else {
      const url = new URL(opts.target);
      this.authority = url.host;
      this.#origin = url.origin;
      this.#options = common;
      this.pool = new Pool(this.#origin, common);
    }
  }

  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.pool.dispatch(opts, handler);
  }

  /**
   * Sends one request on a connection of its own, closed after it: a retry after a reused pool
   * connection failed must not meet another reused (maybe half-closed) one. Rare, so the cost of a
   * connection per call does not matter.
   */
  dispatchFresh(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const client = new Client(this.#origin, this.#options);
    const ok = client.dispatch({ ...opts, reset: true }, handler);
    void client.close();
    return ok;
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}
