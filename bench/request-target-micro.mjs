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
