// Wires one running Outrigger: the filter manager, the upstream pool, the proxy listener (node:http,
// see README "Why node:http on the data path") and the admin API. Start-up fails whole, with a coded
// error; shutdown drains in-flight requests first.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as NetServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { OutriggerConfig } from './config/config.js';
import { FilterManager, type ApplyResult } from './filters/filter-manager.js';
import { buildAdminServer } from './http/admin-server.js';
import { startEchoUpstream } from './http/echo-upstream.js';
import { Exchange, type ExchangeEnv } from './http/exchange.js';
import { boundAddress, listen } from './http/listen.js';
import { Upstream } from './http/upstream.js';
import { UpstreamProbe } from './http/upstream-probe.js';
import { DOWNSTREAM_KEEP_ALIVE_MS } from './limits.js';

export interface RunningOutrigger {
  /** Where the proxy listens ("127.0.0.1:8080" or "unix:/path"). */
  readonly address: string;
  readonly adminAddress: string | null;
  readonly manager: FilterManager;
  /** Re-applies a config (a reload): new generation, or the reason it was rejected. */
  apply(config: OutriggerConfig): Promise<ApplyResult>;
  /** Stops accepting, waits for in-flight requests (up to drain_timeout_ms), then closes everything. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  /** Called by POST /reload; by default re-applies the config it started with. */
  reload?: () => Promise<unknown>;
}

export async function startOutrigger(config: OutriggerConfig, opts: StartOptions): Promise<RunningOutrigger> {
  const logger = opts.logger;
  let echo: Server | null = null;
  let target = config.upstream;
  if (target === 'builtin:echo') {
    const e = await startEchoUpstream();
    echo = e.server;
    target = e.url;
    logger.info({ upstream: target }, 'built-in demo echo upstream started');
  }

  const manager = new FilterManager(logger);
  try {
    await manager.apply(config, { strict: true });
  } catch (err) {
    echo?.close();
    throw err;
  }

  const upstream = new Upstream({ target, timeoutMs: config.upstreamTimeoutMs, connectTimeoutMs: config.connectTimeoutMs });
  const stats = { requests: 0, upstreamErrors: 0, localReplies: 0, filterFaults: 0, inFlight: 0 };
  const env: ExchangeEnv = { upstream, logger, maxBufferedBody: config.maxBufferedBody, stats };
  let drained: (() => void) | null = null;

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    stats.inFlight++;
    res.once('close', () => {
      if (--stats.inFlight === 0 && drained) drained();
    });
    new Exchange(req, res, manager.acquire(), env).start();
  };
  const server = createServer({ keepAliveTimeout: DOWNSTREAM_KEEP_ALIVE_MS, requestTimeout: 0 }, onRequest);
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (socket.writable && err.code !== 'ECONNRESET') socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });

  let started = false;
  const applyConfig = (c: OutriggerConfig) => manager.apply(c);
  const probe = new UpstreamProbe(target);
  let admin: FastifyInstance | null = null;
  try {
    await listen(server, config.listen, 'proxy listener');
    if (config.admin) {
      admin = buildAdminServer({
        logger,
        manager,
        probe,
        started: () => started,
        reload: opts.reload ?? (() => applyConfig(config)),
        stats: () => ({ ...stats }),
      });
      await admin.ready();
      await listen(admin.server as unknown as NetServer, config.admin, 'admin listener');
    }
  } catch (err) {
    server.close();
    await admin?.close();
    echo?.close();
    manager.close();
    await upstream.destroy();
    throw err;
  }
  started = true;
  const address = boundAddress(server);
  const adminAddress = admin ? boundAddress(admin.server as unknown as NetServer) : null;
  logger.info({ listen: address, admin: adminAddress, upstream: upstream.target, filters: config.filters.map((f) => f.name), generation: manager.current.id }, 'outrigger ready');

  let closing: Promise<void> | null = null;
  return {
    address,
    adminAddress,
    manager,
    apply: applyConfig,
    close() {
      closing ??= (async () => {
        logger.info({ inFlight: stats.inFlight }, 'shutting down: draining in-flight requests');
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        if (stats.inFlight > 0) {
          await new Promise<void>((resolve) => {
            drained = resolve;
            setTimeout(resolve, config.drainTimeoutMs).unref();
          });
        }
        if (stats.inFlight > 0) logger.warn({ inFlight: stats.inFlight }, 'drain timeout: closing remaining connections');
        server.closeAllConnections();
        await closed;
        await admin?.close();
        await upstream.close();
        echo?.close();
        manager.close();
        logger.info('shut down');
      })();
      return closing;
    },
  };
}
