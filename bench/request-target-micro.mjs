// The front-door work each request now pays before the filters (issue 12 points 3 and 7), alone,
// in-process: request target resolution (Host check, absolute form, normalize_path), the
// x-forwarded-proto overwrite and the x-request-id. Prints CPU ns per request for a plain path (the
// common case: one scan, no allocation) and for one that needs normalizing. Goal: under 2 µs.
//   node bench/request-target-micro.mjs
import { HeaderMap } from '../dist/host/chain/header-map.js';
import { forwardedProto, requestIdFor } from '../dist/host/http/forwarded-headers.js';
import { resolveRequestTarget } from '../dist/host/http/request-target.js';

const RAW = ['Host', '127.0.0.1:8080', 'User-Agent', 'autocannon', 'Accept', '*/*'];
const N = 500_000;

function run(url) {
  let sink = 0;
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    const t = /** @type {import('../dist/host/http/request-target.js').RequestTarget} */ (resolveRequestTarget('GET', url, RAW, true));
    const h = new HeaderMap([':method', 'GET', ':path', t.path, ':authority', t.authority, 'user-agent', 'autocannon', 'accept', '*/*']);
    forwardedProto(h, 'http', false);
    sink += requestIdFor(h, true).length;
  }
  const d = process.cpuUsage(t0);
  if (sink === 0) throw new Error('unreachable');
  return ((d.user + d.system) * 1000) / N;
}

for (const [name, url] of [
  ['plain /api/v1/items?id=7', '/api/v1/items?id=7'],
  ['to normalize /a//b/./c/../%64?q', '/a//b/./c/../%64?q'],
  ['absolute http://svc/a/b', 'http://svc/a/b'],
]) {
  run(url); // warm-up
  const runs = [run(url), run(url), run(url)].sort((a, b) => a - b);
  console.log(`${name.padEnd(36)} ${runs[1].toFixed(0)} ns/request (median of 3 x ${N})`);
}

// The parts, each alone (CPU ns per request, median of 5 x N), to attribute the total above. The
// one-request-at-a-time turn (pipeline.ts inTurn, and its done() at the response's close) runs on a
// stand-in socket: it only reads writable/destroyed.
const { randomUUID } = await import('node:crypto');
const { inTurn } = await import('../dist/host/http/pipeline.js');
const { recordRequestId } = await import('../dist/host/watchdog/activity.js');
function part(name, fn) {
  fn();
  const runs = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.cpuUsage();
    fn();
    const d = process.cpuUsage(t0);
    runs.push(((d.user + d.system) * 1000) / N);
  }
  runs.sort((a, b) => a - b);
  console.log(`  ${name.padEnd(50)} ${runs[2].toFixed(0)} ns/request`);
}
let sink = 0;
console.log('parts:');
part('resolveRequestTarget, plain path', () => {
  for (let i = 0; i < N; i++) sink += /** @type {any} */ (resolveRequestTarget('GET', '/api/v1/items?id=7', RAW, true)).path.length;
});
part('x-forwarded-proto set (forwardedProto)', () => {
  for (let i = 0; i < N; i++) {
    const h = new HeaderMap([':method', 'GET', ':path', '/a', ':authority', 'h', 'user-agent', 'autocannon']);
    forwardedProto(h, 'http', false);
    sink += h.flat.length;
  }
});
part('x-request-id generated (randomUUID + set)', () => {
  for (let i = 0; i < N; i++) {
    const h = new HeaderMap([':method', 'GET', ':path', '/a', ':authority', 'h', 'user-agent', 'autocannon']);
    sink += /** @type {string} */ (requestIdFor(h, true)).length;
  }
});
const uuid = randomUUID();
part("the watchdog's request-id ring (recordRequestId)", () => {
  for (let i = 0; i < N; i++) recordRequestId(i, uuid);
});
const socket = /** @type {any} */ ({ writable: true, destroyed: false });
part('one request at a time (inTurn + done)', () => {
  for (let i = 0; i < N; i++) inTurn(/** @type {any} */ ({ socket }), () => sink++)();
});
if (sink === 0) throw new Error('unreachable');
