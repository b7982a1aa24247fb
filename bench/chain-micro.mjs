// The filter chain alone, without sockets: N (0..3) of the example filters run over a GET request
// and its response, in-process. Prints CPU µs per request: the floor of what the filters cost.
//   node bench/chain-micro.mjs 3          (npm run bench:chain)
//   node bench/chain-micro.mjs 3 --floor  the same host calls from bench/floor-filters (no SDK)
//   node bench/chain-micro.mjs 3 --empty  N floor filters that do nothing
//   node bench/chain-micro.mjs 3 --cold   (with any of the above) caches flushed before each request
//   node bench/chain-micro.mjs 3 --timing 16  with the callback histogram timing one callback in 16
//   node bench/chain-micro.mjs 3 --batch 14  requests run 14 at a time as turn batching runs them
//                                          (chain-batch.ts); with --cold, caches flushed per batch
//
// A tight loop keeps everything in the CPU's caches; under load, the rest of a request's work
// (sockets, HTTP parsing, the other processes on the core) evicts the filters' code and data between
// requests, and filters cost 3-4x what the loop shows. --cold writes 3 MiB (more than this machine's
// L2) before each request and times only the request: it reproduces the under-load cost, in-process
// and with little noise. That is how the SDK's allocator cost (bench/README.md) was found.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { buildFloorFilters } from './floor-filters/build.mjs';
import { parseConfig } from '../dist/host/config/load-config.js';
import { FilterManager } from '../dist/host/filters/filter-manager.js';
import { CallbackTimings } from '../dist/host/chain/callback-timings.js';
import { FilterChain } from '../dist/host/chain/filter-chain.js';
import { HttpStream } from '../dist/host/chain/http-stream.js';
import { HeaderMap } from '../dist/host/chain/header-map.js';
const args = process.argv.slice(2);
const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
const mode = args.find((a) => a === '--floor' || a === '--empty') ?? '';
const cold = args.includes('--cold');
const batchAt = args.indexOf('--batch');
const batch = batchAt >= 0 ? Number(args[batchAt + 1]) : 0;
// --timing N: the callback latency histogram on, timing one callback in N (callback_timing_sample).
const timingAt = args.indexOf('--timing');
const timings = timingAt >= 0 ? new CallbackTimings(Number(args[timingAt + 1])) : null;
if (batchAt >= 0 && !(batch >= 1)) throw new Error('--batch N: N must be a number >= 1');
let dir = new URL('../filters', import.meta.url).pathname;
if (mode === '--floor' || mode === '--empty') {
  dir = mkdtempSync(path.join(os.tmpdir(), 'outrigger-floor-'));
  await buildFloorFilters(dir);
}
const examples = [
  '  - name: request-id\n    file: request_id.wasm\n',
  '  - name: add-header\n    file: add_header.wasm\n    config: {header: x-hello, value: world}\n',
  '  - name: auth\n    file: api_key_auth.wasm\n    config: {header: x-api-key, keys: [bench-key]}\n',
];
const all = mode === '--empty' ? [0, 1, 2].map((i) => `  - name: empty-${i}\n    file: null.wasm\n`) : examples;
const cfg = parseConfig(`upstream: http://127.0.0.1:1\nfilters_dir: ${dir}\nfilters:\n${all.slice(0, n).join('')}`, '/tmp/x.yaml');
const m = new FilterManager(pino({ level: 'warn' }));
await m.apply(cfg);
const sink = {
  requestHeaders() {},
  requestData() {},
  responseHeaders() {},
  responseData() {},
  localReply(r) {
    throw new Error(`local ${r.status}`);
  },
  beginLocalReply() {
    return false;
  },
  reset() {},
};
const events = {
  fault(_f, e) {
    throw e;
  },
  closed() {},
};
/** The benchmark's GET request, as the proxy would hand it to the chain. */
function newStream(id) {
  const h = new HeaderMap([
    ':method',
    'GET',
    ':path',
    '/x',
    ':authority',
    '127.0.0.1:8080',
    ':scheme',
    'http',
    'user-agent',
    'autocannon',
    'x-api-key',
    'bench-key',
    'accept',
    '*/*',
  ]);
  return new HttpStream(id, h, {
    sourceAddress: '127.0.0.1',
    sourcePort: 1,
    destinationAddress: '127.0.0.1',
    destinationPort: 2,
    protocol: 'HTTP/1.1',
    scheme: 'http',
  });
}
const limits = { maxBufferedBody: 1 << 20, filterHoldTimeoutMs: 30_000 };
function one(i) {
  const gen = m.acquire();
  const s = newStream(`id${i}`);
  const c = new FilterChain(gen.filters, s, sink, limits, events, gen.orders, null, timings);
  c.start(true);
  s.responseHeaders = new HeaderMap([':status', '200', 'content-length', '13', 'content-type', 'text/plain', 'date', 'x']);
  s.responseCode = 200;
  c.responseHeaders(false);
  c.responseData(Buffer.from('hello, world\n'), true);
  c.close();
  gen.release();
}
/** `batch` requests through the chain's batched phases, as chain-batch.ts runs a turn's requests. */
function many(i) {
  const gen = m.acquire();
  const chains = [];
  const streams = [];
  for (let j = 0; j < batch; j++) {
    gen.acquire();
    const s = newStream(`id${i}-${j}`);
    const c = new FilterChain(gen.filters, s, sink, limits, events, gen.orders, queue, timings);
    c.start(true);
    streams.push(s);
    chains.push(c);
  }
  FilterChain.startAll(chains);
  for (let j = 0; j < batch; j++) {
    streams[j].responseHeaders = new HeaderMap([':status', '200', 'content-length', '13', 'content-type', 'text/plain', 'date', 'x']);
    streams[j].responseCode = 200;
    chains[j].responseHeaders(false);
    chains[j].responseData(Buffer.from('hello, world\n'), true);
  }
  FilterChain.responseHeadersAll(chains);
  for (const c of chains) c.close();
  FilterChain.closeAll(chains);
  for (let j = 0; j <= batch; j++) gen.release();
}
/** Stands in for ChainBatch: the phases are run by many() itself. */
/** @type {any} */
const queue = { start() {}, responseHeaders() {}, close() {} };
const run = batch ? many : one;
const per = batch || 1;
for (let i = 0; i < 20000 / per; i++) run(i);
const label = `${n} filters${mode ? ` (${mode.slice(2)})` : ''}${batch ? ` in batches of ${batch}` : ''}${cold ? ' cold' : ''}${timings ? `, callbacks timed 1 in ${timings.sample}` : ''}`;
if (cold) {
  const junk = new Uint8Array(3 << 20);
  const N = Math.ceil(30000 / per);
  let ns = 0n;
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < junk.length; j += 64) junk[j]++;
    const t0 = process.hrtime.bigint();
    run(i);
    ns += process.hrtime.bigint() - t0;
  }
  console.log(`${label}: ${(Number(ns) / (N * per) / 1000).toFixed(2)} us wall/req`);
} else {
  const N = Math.ceil(200000 / per);
  const t = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) run(i);
  const u = process.cpuUsage(t);
  console.log(
    `${label}: ${((u.user + u.system) / (N * per)).toFixed(2)} us cpu/req, ${(((performance.now() - t0) * 1000) / (N * per)).toFixed(2)} us wall/req`,
  );
}
if (mode) rmSync(dir, { recursive: true, force: true });
