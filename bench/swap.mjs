// Hot-swap benchmark: continuous load while a filter's .wasm is replaced N times (alternating two
// builds that stamp different versions) and the chain is reordered M times by config edits.
// Reports failed / non-2xx requests, responses that mix two generations, and the time from each
// rename to the first response served by the new version (p50/p99).
//
//   node bench/swap.mjs [--connections 50] [--swaps 50] [--reorders 10] [--interval 200]
//
// Needs `npm run build` and the test fixtures (`npm run build:fixtures`).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURES = path.join(ROOT, 'test/fixtures/build');
const { values: opts } = parseArgs({
  options: {
    connections: { type: 'string', default: '50' },
    swaps: { type: 'string', default: '50' },
    reorders: { type: 'string', default: '10' },
    interval: { type: 'string', default: '200' },
  },
});
const CONNECTIONS = Number(opts.connections);
const SWAPS = Number(opts.swaps);
const REORDERS = Number(opts.reorders);
const INTERVAL = Number(opts.interval);

const A = readFileSync(path.join(FIXTURES, 'version_a.wasm'));
const B = readFileSync(path.join(FIXTURES, 'version_b.wasm'));
const dir = mkdtempSync(path.join(tmpdir(), 'outrigger-swap-'));
const stampFile = path.join(dir, 'stamp.wasm');
const configFile = path.join(dir, 'outrigger.yaml');

function renameInto(file, bytes) {
  writeFileSync(`${file}.tmp`, bytes);
  renameSync(`${file}.tmp`, file);
}

// Upstream: echoes what the request phase did, so each response shows both phases' generation.
const upstream = createServer((req, res) => {
  req.resume();
  res.writeHead(200, {
    'content-length': 2,
    'x-saw-version': req.headers['x-version-request'] ?? '',
    'x-saw-chain': req.headers['x-chain'] ?? '',
  });
  res.end('ok');
});
await new Promise((r) => upstream.listen(0, '127.0.0.1', () => r(undefined)));
const upstreamUrl = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (upstream.address()).port}`;

const config = (order) => `listen: 127.0.0.1:0
admin: false
upstream: ${upstreamUrl}
log_level: info
filters:
  - name: stamp
    file: ${stampFile}
${order.map((v) => `  - name: append-${v}\n    file: ${FIXTURES}/append.wasm\n    config: { value: "${v}" }\n`).join('')}`;

renameInto(stampFile, A);
writeFileSync(configFile, config(['x', 'y']));

const child = spawn(process.execPath, [path.join(ROOT, 'bin/outrigger.js'), 'start', '--config', configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
const killChild = () => child.kill('SIGKILL');
process.on('exit', killChild);
const address = await new Promise((resolve, reject) => {
  let buf = '';
  child.stdout.on('data', (c) => {
    buf += c;
    for (let i; (i = buf.indexOf('\n')) >= 0; ) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const j = JSON.parse(line);
        if (j.msg === 'outrigger ready') resolve(j.listen);
      } catch {}
    }
  });
  child.once('exit', (c) => reject(new Error(`outrigger exited with ${c}`)));
});

const pool = new Pool(`http://${address}`, { connections: CONNECTIONS });
const stats = { ok: 0, non2xx: 0, errors: 0, mixed: 0, mixedExamples: [] };
let running = true;

async function worker() {
  while (running) {
    try {
      const res = await pool.request({ path: '/', method: 'GET' });
      await res.body.text();
      const done = performance.now();
      if (res.statusCode < 200 || res.statusCode > 299) {
        stats.non2xx++;
        continue;
      }
      stats.ok++;
      const h = res.headers;
      const vReq = h['x-saw-version'];
      const vRes = h['x-version-response'];
      const chainReq = h['x-saw-chain'];
      const chainRes = h['x-chain'];
      const consistent = vReq === vRes && chainRes === String(chainReq).split(',').reverse().join(',');
      if (!consistent) {
        stats.mixed++;
        if (stats.mixedExamples.length < 5) stats.mixedExamples.push({ vReq, vRes, chainReq, chainRes });
      }
      observe('version', vRes, done);
      observe('order', chainReq, done);
    } catch {
      stats.errors++;
    }
  }
}

// Each value's appearances as a list of completion times; latency = first completion after a change.
const seen = { version: [], order: [] };
function observe(kind, value, t) {
  seen[kind].push([t, value]);
}

function latencyAfter(kind, t0, value) {
  for (const [t, v] of seen[kind]) if (t >= t0 && v === value) return t - t0;
  return NaN;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const workers = Array.from({ length: CONNECTIONS }, worker);
await sleep(1000);

const swapLatency = [];
const reorderLatency = [];
const events = [];
let version = 'a';
for (let i = 0; i < SWAPS; i++) {
  version = version === 'a' ? 'b' : 'a';
  const t0 = performance.now();
  renameInto(stampFile, version === 'a' ? A : B);
  events.push(['version', t0, version]);
  await sleep(INTERVAL);
}
let order = ['x', 'y'];
for (let i = 0; i < REORDERS; i++) {
  order = [...order].reverse();
  const t0 = performance.now();
  renameInto(configFile, config(order));
  events.push(['order', t0, order.join(',')]);
  await sleep(INTERVAL * 2);
}
await sleep(500);
running = false;
await Promise.all(workers);
await pool.close();
child.kill('SIGTERM');
upstream.close();

for (const [kind, t0, value] of events) (kind === 'version' ? swapLatency : reorderLatency).push(latencyAfter(kind, t0, value));
const pct = (xs, p) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const missed = [...swapLatency, ...reorderLatency].filter(Number.isNaN).length;
const result = {
  connections: CONNECTIONS,
  requests: stats.ok + stats.non2xx + stats.errors,
  ok: stats.ok,
  non2xx: stats.non2xx,
  errors: stats.errors,
  mixedGenerationResponses: stats.mixed,
  mixedExamples: stats.mixedExamples,
  swaps: SWAPS,
  reorders: REORDERS,
  changesNeverSeen: missed,
  swapToFirstResponseMs: { p50: pct(swapLatency, 50), p99: pct(swapLatency, 99), max: pct(swapLatency, 100) },
  reorderToFirstResponseMs: { p50: pct(reorderLatency, 50), p99: pct(reorderLatency, 99), max: pct(reorderLatency, 100) },
};
console.log(JSON.stringify(result, null, 2));
const pass = result.non2xx === 0 && result.errors === 0 && result.mixedGenerationResponses === 0 && missed === 0 && result.swapToFirstResponseMs.p99 < 100;
console.log(`goals (zero failures, zero mixed responses, every change seen, p99 rename->new version < 100 ms): ${pass ? 'PASS' : 'FAIL'}`);
process.exitCode = pass ? 0 : 1;
