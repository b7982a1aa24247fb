// The upstream: one undici keep-alive pool to an http:// origin or a unix socket. Requests are
// dispatched with undici's raw handler interface so bodies stream in both directions with
// back-pressure and nothing is parsed twice.

import { Pool, type Dispatcher } from 'undici';
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_UPSTREAM_TIMEOUT_MS, UPSTREAM_POOL_CONNECTIONS } from '../limits.js';

export interface UpstreamOptions {
  /** http://host:port, https://host:port or unix:/path/to.sock */
  target: string;
  timeoutMs?: number;
  connectTimeoutMs?: number;
}

export class Upstream {
  readonly target: string;
  readonly pool: Pool;
  /** What goes in the host header when the request has none, and what logs print. */
  readonly authority: string;
  /** Response headers timeout and longest gap in the body (upstream_timeout_ms). */
  readonly timeoutMs: number;

  constructor(opts: UpstreamOptions) {
    this.target = opts.target;
    const timeout = opts.timeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS;
    this.timeoutMs = timeout;
    const common = {
      connections: UPSTREAM_POOL_CONNECTIONS,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      keepAliveTimeout: 4_000,
      connectTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    };
    if (opts.target.startsWith('unix:')) {
      const socketPath = opts.target.slice('unix:'.length);
      this.authority = 'localhost';
      this.pool = new Pool('http://localhost', { ...common, socketPath });
    } else {
      const url = new URL(opts.target);
      this.authority = url.host;
      this.pool = new Pool(url.origin, common);
    }
  }

  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.pool.dispatch(opts, handler);
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}
