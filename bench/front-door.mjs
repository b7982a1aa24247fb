// Front-door figures (issue 12): (1) normal load's p99 and req/s with 500 slowloris connections
// (heads trickled a byte every few seconds) against the same load without them; (2) 1,000 GETs
// through an upstream that closes keep-alive connections at random as the next request arrives:
// failures. Run it against this tree's dist, or another build's for "before" figures:
//
//   node bench/front-door.mjs [--dist ./dist] [--seconds 5]
// The proxy runs in this process (one core each for it and autocannon is not available here);
// the figures are paired, same run, same process.
import { connect, createServer } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { pino } from 'pino';

const { values } = parseArgs({ strict: false, options: { dist: { type: 'string', default: './dist' }, seconds: { type: 'string', default: '5' } } });
const dist = path.resolve(String(values.dist));
const { parseConfig } = await import(path.join(dist, 'host/config/load-config.js'));
const { startOutrigger } = await import(path.join(dist, 'host/server.js'));

/** closeRate: chance that a connection, having answered, drops the next request without a byte. */
async function upstream(closeRate) {
  const server = createServer((sock) => {
    let buf = '';
    let served = 0;
    let doomed = false;
    sock.on('error', () => {});
    sock.on('data', (c) => {
      buf += c.toString('latin1');
      for (let i = buf.indexOf('\r\n\r\n'); i >= 0; i = buf.indexOf('\r\n\r\n')) {
        buf = buf.slice(i + 4);
        if (doomed) {
          sock.destroy();
          return;
        }
        served++;
        sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        doomed = served > 0 && Math.random() < closeRate;
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  return { url: `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`, close: () => server.close() };
}

async function proxy(up) {
  const text = `listen: 127.0.0.1:0\nadmin: false\nupstream: ${up.url}\nlog_level: fatal\ndrain_timeout_ms: 500\n`;
  const config = parseConfig(text, 'bench.yaml');
  const running = await startOutrigger(config, { logger: pino({ level: 'fatal' }), watch: false });
  return { url: `http://${running.address}`, close: () => running.close() };
}

const seconds = Number(values.seconds);
const up = await upstream(0);
const p = await proxy(up);
await autocannon({ url: p.url, connections: 20, duration: 1 });
const load = () => autocannon({ url: p.url, connections: 20, duration: seconds });
const base = await load();
const { port } = new URL(p.url);
const slow = [];
for (let i = 0; i < 500; i++) {
  const s = connect(Number(port), '127.0.0.1');
  s.on('error', () => {});
  s.write('GET / HTTP/1.1\r\nhost: a\r\n');
  slow.push(s);
}
const drip = setInterval(() => {
  for (const s of slow) if (!s.destroyed) s.write('x-a: b\r\n');
}, 2_000);
const loris = await load();
clearInterval(drip);
const stillOpen = slow.filter((s) => !s.destroyed && !s.readableEnded).length;
for (const s of slow) s.destroy();
console.log(
  `slowloris (500 conns): req/s ${loris.requests.average} vs ${base.requests.average} without (ratio ${(loris.requests.average / base.requests.average).toFixed(3)}); p99 ${loris.latency.p99} ms vs ${base.latency.p99} ms; slowloris sockets still open after the run: ${stillOpen}`,
);
await p.close();
up.close();

const flaky = await upstream(0.3);
const fp = await proxy(flaky);
let failed = 0;
const N = 1000;
let next = 0;
await Promise.all(
  Array.from({ length: 10 }, async () => {
    while (next < N) {
      next++;
      try {
        const r = await fetch(`${fp.url}/x`);
        if (r.status !== 200 || (await r.text()) !== 'ok') failed++;
      } catch {
        failed++;
      }
    }
  }),
);
console.log(`random-close upstream (30% of connections drop the next request): ${failed} of ${N} GETs failed`);
await fp.close();
flaky.close();
