// Which listener should carry the data path: a plain node:http server, or fastify's catch-all route
// (hijacking the reply in onRequest, before any body parsing)? Both hand each request to the same
// Exchange with the same (empty) filter chain; the load is autocannon, 50 connections, on loopback.
//
//   node bench/listener.mjs [--seconds 6] [--rounds 3]
// Reports the proxy's CPU µs per request (process.cpuUsage, the proxy runs in a child process).
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values } = parseArgs({ strict: false, options: { seconds: { type: 'string', default: '6' }, rounds: { type: 'string', default: '3' } } });

if (process.argv[2] === '--child') {
  const { pino } = await import('pino');
  const { default: Fastify } = await import('fastify');
  const { Exchange } = await import('../dist/host/http/exchange.js');
  const { Upstream } = await import('../dist/host/http/upstream.js');
  const { FilterManager } = await import('../dist/host/filters/filter-manager.js');
  const { ChainBatch } = await import('../dist/host/chain/chain-batch.js');
  const [, , , kind, upstreamUrl] = process.argv;
  const logger = pino({ level: 'warn' });
  const manager = new FilterManager(logger);
  const env = {
    batch: new ChainBatch(),
    upstream: new Upstream({ target: upstreamUrl }),
    logger,
    limits: { maxBufferedBody: 1 << 20, filterHoldTimeoutMs: 30_000 },
    stats: { requests: 0, upstreamErrors: 0, localReplies: 0, filterFaults: 0 },
    front: { normalizePath: true, trustForwardedHeaders: false, generateRequestId: true },
  };
  const handle = (req, res) => new Exchange(req, res, manager.acquire(), env, { path: req.url, authority: req.headers.host ?? '' }).start();
  let port;
  if (kind === 'node:http') {
    const server = createServer({ keepAliveTimeout: 65_000 }, handle);
    await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
    port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
  } else {
    const app = Fastify({ logger: false, keepAliveTimeout: 65_000 });
    app.addHook('onRequest', (req, reply, done) => {
      reply.hijack();
      handle(req.raw, reply.raw);
      done();
    });
    app.all('/*', () => {});
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = /** @type {import('node:net').AddressInfo} */ (app.server.address()).port;
  }
  process.on('message', (m) => {
    if (m === 'cpu') process.send({ cpu: process.cpuUsage() });
  });
  process.send({ port });
} else {
  const body = Buffer.from('hello, world\n');
  const upstream = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  await new Promise((r) => upstream.listen(0, '127.0.0.1', () => r(undefined)));
  const upstreamUrl = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (upstream.address()).port}`;
  const results = { 'node:http': [], 'fastify catch-all': [] };
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const kind of Object.keys(results)) {
      const child = fork(new URL(import.meta.url).pathname, ['--child', kind, upstreamUrl]);
      const next = () => new Promise((r) => child.once('message', r));
      const { port } = await next();
      const url = `http://127.0.0.1:${port}/x`;
      await autocannon({ url, connections: 50, duration: 2 });
      child.send('cpu');
      const before = (await next()).cpu;
      const r = await autocannon({ url, connections: 50, duration: Number(values.seconds) });
      child.send('cpu');
      const after = (await next()).cpu;
      const us = (after.user - before.user + after.system - before.system) / r.requests.total;
      results[kind].push({ rps: r.requests.average, usPerReq: us, non2xx: r.non2xx });
      child.kill();
    }
  }
  upstream.close();
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [kind, rs] of Object.entries(results))
    console.log(
      `${kind.padEnd(18)} ${median(rs.map((r) => r.rps))
        .toFixed(0)
        .padStart(7)} req/s  ${median(rs.map((r) => r.usPerReq)).toFixed(1)} µs CPU/req  non-2xx ${rs.reduce((a, r) => a + r.non2xx, 0)}`,
    );
  const a = median(results['node:http'].map((r) => r.usPerReq));
  const b = median(results['fastify catch-all'].map((r) => r.usPerReq));
  console.log(`fastify catch-all costs ${(b - a).toFixed(1)} µs more CPU per request (${((b / a - 1) * 100).toFixed(0)}%)`);
}
