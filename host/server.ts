// Wires one running Outrigger: the filter manager, the upstream pool, the proxy listener (node:http,
// see README "Why node:http on the data path") and the admin API. Start-up fails whole, with a coded
// error; shutdown drains in-flight requests first.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ChainBatch } from './chain/chain-batch.js';
import type { OutriggerConfig } from './config/config.js';
import { FilterManager } from './filters/filter-manager.js';
import { Reloader, type ReloadResult } from './filters/reloader.js';
import { buildAdminServer } from './http/admin-server.js';
import { ClusterRegistry } from './http/clusters.js';
import { Http2GrpcClusters } from './http/grpc-client.js';
import { CallbackTimings } from './chain/callback-timings.js';
import { startEchoUpstream } from './http/echo-upstream.js';
import { clientErrorReply, rawReply } from './http/client-error.js';
import { Exchange, type ExchangeEnv, type ExchangeUpgrade } from './http/exchange.js';
import { acceptHttp2, h2HostHeaders } from './http/h2-listener.js';
import { boundAddress, listen } from './http/listen.js';
import { logRejection } from './http/rejection-log.js';
import { resolveRequestTarget } from './http/request-target.js';
import { serverTimeoutOptions } from './http/client-timeouts.js';
import { afterInFlight, inTurn } from './http/pipeline.js';
import { proxiedUpgrade, responseOver, upgradeHasBody } from './http/upgrade.js';
import { Upstream } from './http/upstream.js';
import { UpstreamProbe } from './http/upstream-probe.js';
import { runTestHooks, TEST_HOOKS_ENABLED } from './test-hooks.js';
import type { Watchdog } from './watchdog/watchdog.js';

export interface RunningOutrigger {
  /** Where the proxy listens ("127.0.0.1:8080" or "unix:/path"). */
  readonly address: string;
  readonly adminAddress: string | null;
  readonly manager: FilterManager;
  /** Re-reads the config file and filters now, as POST /reload does. */
  reload(): Promise<ReloadResult>;
  /** Stops accepting, waits for in-flight requests (up to drain_timeout_ms), then closes everything. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  /** The file `config` came from: reloads re-read it. Null for an in-memory config (the demo). */
  configFile?: string | null;
  /** Watch the config file and filters directory for changes (default true). */
  watch?: boolean;
  /** The process's watchdog (cli.ts starts it): told about reloads of watchdog_ms and about shutdown. */
  watchdog?: Watchdog | null;
}

/** The request-target and forwarded-header settings (issue 12 points 3 and 7), applied on reload. */
function frontOptions(c: OutriggerConfig): ExchangeEnv['front'] {
  return { normalizePath: c.normalizePath, trustForwardedHeaders: c.trustForwardedHeaders, generateRequestId: c.generateRequestId };
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
  const clusters = new ClusterRegistry(config.clusters, config.connectTimeoutMs);
  manager.httpCalls = clusters;
  // gRPC calls use the same clusters (read at each call, so a reload applies), over HTTP/2.
  const grpcClusters = new Http2GrpcClusters(
    (name) => {
      const c = clusters.get(name);
      return c && { url: c.url, timeoutMs: c.timeoutMs };
    },
    { logger, connectTimeoutMs: config.connectTimeoutMs },
  );
  manager.grpcCalls = grpcClusters;
  try {
    await manager.apply(config, { strict: true });
  } catch (err) {
    echo?.close();
    grpcClusters.close();
    await clusters.close();
    throw err;
  }

  const echoUrl = target;
  const resolveTarget = (c: OutriggerConfig) => (c.upstream === 'builtin:echo' ? echoUrl : c.upstream);
  const stats = { requests: 0, upstreamErrors: 0, localReplies: 0, filterFaults: 0, inFlight: 0 };
  const env: ExchangeEnv = {
    batch: new ChainBatch(),
    upstream: new Upstream(upstreamOptions(target, config)),
    logger,
    limits: { maxBufferedBody: config.maxBufferedBody, filterHoldTimeoutMs: config.filterHoldTimeoutMs },
    clientBodyTimeoutMs: config.clientBodyTimeoutMs,
    timings: new CallbackTimings(config.callbackTimingSample),
    stats,
    front: frontOptions(config),
  };
  let draining = false;
  let probe = new UpstreamProbe(target);
  let drained: (() => void) | null = null;

  const onRequest = (req: IncomingMessage, res: ServerResponse, upgrade: ExchangeUpgrade | null = null, fromUpgradeEvent = false) => {
    if (TEST_HOOKS_ENABLED) runTestHooks(req);
    stats.inFlight++;
    // One request at a time per connection (pipelining): rejections too keep their place in line.
    // HTTP/2 streams are concurrent by design: each starts at once (h2-listener.ts).
    const h2 = req.httpVersionMajor === 2;
    const run = () => {
      const target = resolveRequestTarget(req.method ?? 'GET', req.url ?? '/', h2 ? h2HostHeaders(req.rawHeaders) : req.rawHeaders, env.front.normalizePath);
      if ('status' in target) {
        logRejection(logger, req.socket, target.status, target.reason, target.message);
        const body = `${target.message}\n`;
        res.writeHead(target.status, {
          connection: 'close',
          'content-type': 'text/plain; charset=utf-8',
          'x-outrigger-error': target.code,
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
        return;
      }
      new Exchange(req, res, manager.acquire(), env, target, upgrade).start();
    };
    // A request from the 'upgrade' event owns its connection (closed after the response, or a
    // tunnel): it is in flight until the socket closes. One listener for both (a second once() on
    // the response measured ~0.19 µs a request in-process): out of flight, then the next in line.
    let done: (() => void) | null = null;
    (fromUpgradeEvent ? req.socket : res).once('close', () => {
      if (--stats.inFlight === 0 && drained) drained();
      done?.();
    });
    if (h2) run();
    else done = inTurn(req, run);
  };
  const server = createServer(serverTimeoutOptions(config), onRequest);
  // h2c with prior knowledge on the same port; the timeouts as reloads leave them on `server`.
  const h2 = acceptHttp2(server, {
    logger,
    timeouts: () => ({ headerMs: server.headersTimeout, keepaliveMs: server.keepAliveTimeout }),
    onRequest: (req, res) => onRequest(req, res),
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // After the responses to the requests received before the bad bytes (pipelining, in order).
    afterInFlight(socket as Socket, () => {
      if (socket.writable && err.code !== 'ECONNRESET') {
        const r = clientErrorReply(err);
        logRejection(logger, socket as Socket, r.status, r.reason, `${err.code ?? ''} ${err.message}`.trim());
        socket.end(r.bytes);
      } else socket.destroy();
    });
  });
  // Node hands over every request with Upgrade and Connection: upgrade here, without a response.
  /** Upgraded connections leave node's tracking: shutdown closes them itself. */
  const upgraded = new Set<Socket>();
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    const token = proxiedUpgrade(req);
    if (token === null && upgradeHasBody(req)) {
      // A declined upgrade goes on as HTTP/1.1, but node left its body on the socket unread.
      logRejection(logger, socket, 400, 'upgrade_with_body', 'an Upgrade request other than websocket with a body');
      socket.end(rawReply(400, 'OUTRIGGER_BAD_REQUEST', 'Outrigger proxies only websocket upgrades; send the request without Upgrade\n'));
      return;
    }
    onRequest(req, responseOver(req, socket), token === null ? null : { token, head }, true);
  });
  // Without a listener node drops a CONNECT's socket silently; Outrigger does not tunnel: 405.
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    const message = 'CONNECT is not supported: Outrigger is a reverse proxy and does not tunnel';
    logRejection(logger, socket, 405, 'connect_method', message);
    socket.end(rawReply(405, 'OUTRIGGER_METHOD_NOT_SUPPORTED', `${message}\n`));
  });

  /** What a reload may change besides filters; listener addresses need a restart. */
  const applySettings = (next: OutriggerConfig, prev: OutriggerConfig) => {
    if (next.logLevel !== prev.logLevel) logger.level = next.logLevel;
    if (next.watchdogMs !== prev.watchdogMs) opts.watchdog?.configure(next.watchdogMs);
    env.limits = { maxBufferedBody: next.maxBufferedBody, filterHoldTimeoutMs: next.filterHoldTimeoutMs };
    env.front = frontOptions(next);
    env.clientBodyTimeoutMs = next.clientBodyTimeoutMs;
    if (env.timings) env.timings.sample = next.callbackTimingSample;
    server.headersTimeout = next.clientHeaderTimeoutMs;
    server.keepAliveTimeout = next.keepaliveTimeoutMs;
    if (
      next.upstream !== prev.upstream ||
      next.upstreamTimeoutMs !== prev.upstreamTimeoutMs ||
      next.connectTimeoutMs !== prev.connectTimeoutMs ||
      next.upstreamMaxConnections !== prev.upstreamMaxConnections ||
      next.upstreamQueueTimeoutMs !== prev.upstreamQueueTimeoutMs
    ) {
      const old = env.upstream;
      env.upstream = new Upstream(upstreamOptions(resolveTarget(next), next));
      probe = new UpstreamProbe(env.upstream.target);
      logger.info({ upstream: env.upstream.target }, 'upstream changed');
      void old.close();
    }
    const c = clusters.apply(next.clusters);
    if (c.added.length || c.changed.length || c.removed.length) logger.info(c, 'clusters changed');
    if (next.listen.text !== prev.listen.text || next.admin?.text !== prev.admin?.text)
      logger.warn({ listen: next.listen.text, admin: next.admin?.text ?? null }, 'listen and admin address changes take effect after a restart');
  };
  const reloader = new Reloader({ configFile: opts.configFile ?? null, config, manager, logger, applySettings });

  let started = false;
  let admin: FastifyInstance | null = null;
  try {
    await listen(server, config.listen, 'proxy listener');
    if (config.admin) {
      admin = buildAdminServer({
        logger,
        manager,
        probe: () => probe.check(),
        started: () => started,
        draining: () => draining,
        reload: () => reloader.reload('admin request'),
        stats: () => ({ ...stats }),
        timings: env.timings,
        clusters,
      });
      await admin.ready();
      await listen(admin.server as unknown as NetServer, config.admin, 'admin listener');
    }
  } catch (err) {
    server.close();
    await admin?.close();
    echo?.close();
    manager.close();
    await env.upstream.destroy();
    grpcClusters.close();
    await clusters.close();
    throw err;
  }
  if (opts.watch ?? true) await reloader.start();
  started = true;
  const address = boundAddress(server);
  const adminAddress = admin ? boundAddress(admin.server as unknown as NetServer) : null;
  logger.info(
    { listen: address, admin: adminAddress, upstream: env.upstream.target, filters: config.filters.map((f) => f.name), generation: manager.current.id },
    'outrigger ready',
  );

  let closing: Promise<void> | null = null;
  return {
    address,
    adminAddress,
    manager,
    reload: () => reloader.reload('api'),
    close() {
      closing ??= (async () => {
        draining = true;
        reloader.close();
        const drainTimeoutMs = reloader.config.drainTimeoutMs;
        opts.watchdog?.shutdownStarted(drainTimeoutMs);
        logger.info({ inFlight: stats.inFlight }, 'shutting down: draining in-flight requests');
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        h2.closeIdle();
        if (stats.inFlight > 0) {
          await new Promise<void>((resolve) => {
            drained = resolve;
            setTimeout(resolve, drainTimeoutMs).unref();
          });
        }
        if (stats.inFlight > 0) logger.warn({ inFlight: stats.inFlight }, 'drain timeout: closing remaining connections');
        server.closeAllConnections();
        h2.destroyAll();
        for (const s of upgraded) s.destroy();
        await closed;
        await admin?.close();
        await env.upstream.close();
        echo?.close();
        manager.close();
        grpcClusters.close();
        await clusters.close();
        logger.info('shut down');
      })();
      return closing;
    },
  };
}

function upstreamOptions(target: string, c: OutriggerConfig) {
  return {
    target,
    timeoutMs: c.upstreamTimeoutMs,
    connectTimeoutMs: c.connectTimeoutMs,
    maxConnections: c.upstreamMaxConnections,
    queueTimeoutMs: c.upstreamQueueTimeoutMs,
  };
}
