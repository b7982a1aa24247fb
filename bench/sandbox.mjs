// Sandbox benchmark (not a test): what a stuck or memory-hungry filter costs the proxy.
//  1. Stuck callback -> policy response: 20 tries of a request whose filter loops forever in
//     proxy_on_request_headers (cpu_ms 100, fail_closed); client-side latency p50/p99 (goal: within
//     2 x cpu_ms). Each try has its own filter, so the crash-loop breaker never kicks in.
//  2. Memory: the proxy's RSS (VmRSS, and the peak VmHWM) before a memory bomb, after it (capped at
//     memory_mb 64), and after a leaking instance grown past 3/4 of its cap was replaced once idle;
//     each also after a full garbage collection of the proxy, asked for over the V8 inspector
//     (HeapProfiler.collectGarbage; the proxy runs with --inspect=127.0.0.1:0, which changes nothing
//     else): a replaced instance's wasm memory goes back to the system only when V8 collects its
//     WebAssembly.Memory, so the RSS after a gc says whether anything still holds it.
//
//   node bench/sandbox.mjs [--tries 20] [--cpu-ms 100]          (needs npm run build and build:fixtures)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request, WebSocket } from 'undici';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURES = path.join(ROOT, 'test/fixtures/build');
const { values: opts } = parseArgs({ options: { tries: { type: 'string', default: '20' }, 'cpu-ms': { type: 'string', default: '100' } } });
const TRIES = Number(opts.tries);
const CPU_MS = Number(opts['cpu-ms']);

const upstream = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-length': 2 });
  res.end('ok');
});
await new Promise((r) => upstream.listen(0, '127.0.0.1', () => r(undefined)));
const upstreamUrl = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (upstream.address()).port}`;

const dir = mkdtempSync(path.join(tmpdir(), 'outrigger-sandbox-'));
const configFile = path.join(dir, 'outrigger.yaml');
const spinners = Array.from(
  { length: TRIES },
  (_, i) => `  - name: spin-${i}
    file: ${FIXTURES}/spin.wasm
    on_error: fail_closed
    limits: { cpu_ms: ${CPU_MS} }
    config: { where: request_headers, path: /spin-${i}/ }
`,
).join('');
writeFileSync(
  configFile,
  `listen: 127.0.0.1:0
admin: false
upstream: ${upstreamUrl}
log_level: info
filters:
${spinners}  - name: bomb
    file: ${FIXTURES}/bomb.wasm
    on_error: fail_closed
    limits: { cpu_ms: 20000, memory_mb: 64 }
`,
);

const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', path.join(ROOT, 'bin/outrigger.js'), 'start', '--config', configFile], {
  stdio: ['ignore', 'pipe', 'pipe'],
});
/** The proxy's inspector: node prints "Debugger listening on ws://..." on stderr first. */
const inspectorUrl = new Promise((resolve) => {
  let err = '';
  child.stderr.on('data', (c) => {
    err += c;
    const m = /Debugger listening on (ws:\/\/\S+)/.exec(err);
    if (m) resolve(m[1]);
    if (!/Debugger|inspector|For help/.test(String(c))) process.stderr.write(c);
  });
});
process.on('exit', () => child.kill('SIGKILL'));
/** CPU ms each stopped callback had used when it was stopped (from the proxy's log lines). */
const stoppedAt = [];
/** The proxy's own major GCs after dropping instances (host/abi/wasm-memory-reclaim.ts). */
const reclaims = [];
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
        if (j.code === 'OUTRIGGER_FILTER_DEADLINE' && typeof j.elapsedMs === 'number') stoppedAt.push(j.elapsedMs);
        if (j.code === 'OUTRIGGER_WASM_MEMORY_RECLAIMED') reclaims.push(j);
      } catch {}
    }
  });
  child.once('exit', (c) => reject(new Error(`outrigger exited with ${c}`)));
});
const base = `http://${address}`;

async function get(p) {
  const t0 = performance.now();
  const res = await request(`${base}${p}`);
  await res.body.text();
  return { status: res.statusCode, ms: performance.now() - t0 };
}

/** VmRSS and VmHWM (peak) of the proxy process, in MiB. */
function memory() {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Waits until cond() holds, or ms have passed. */
async function until(cond, ms) {
  for (const end = Date.now() + ms; !cond() && Date.now() < end; ) await sleep(50);
}

/** A full (major) garbage collection in the proxy, over its inspector; resolves when done. */
async function collectGarbage() {
  const ws = new WebSocket(await inspectorUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
    ws.onmessage = (e) => {
      if (JSON.parse(String(e.data)).id === 1) resolve(undefined);
    };
    ws.onerror = reject;
  });
  ws.close();
  await sleep(200); // freed backing stores are unmapped by V8's background tasks
}

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

for (let i = 0; i < 200; i++) await get('/warm');
const latencies = [];
for (let i = 0; i < TRIES; i++) {
  const r = await get(`/spin-${i}/`);
  if (r.status !== 503) throw new Error(`try ${i}: expected 503, got ${r.status}`);
  latencies.push(r.ms);
  await get('/between');
}
await sleep(200);
process.stdout.write(
  `stopped callbacks had used p50 ${pct(stoppedAt, 50)} ms, p99 ${pct(stoppedAt, 99)} ms of CPU (${stoppedAt.length} stops); load average ${(await import('node:os')).loadavg()[0].toFixed(1)} on ${(await import('node:os')).cpus().length} CPUs\n`,
);
process.stdout.write(
  `stuck -> policy (cpu_ms ${CPU_MS}, ${TRIES} tries): p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms (goal: within ${2 * CPU_MS} ms)\n`,
);

await sleep(500);
await collectGarbage();
const before = memory();
const bomb = await get('/bomb');
const during = memory();
await until(() => reclaims.length >= 1, 15_000);
for (let i = 0; i < 50; i++) await get('/after');
const after = memory();
await collectGarbage();
const afterGc = memory();
for (let i = 0; i < 13; i++) await get('/leak'); // 13 x 4 MiB: past 3/4 of 64 MiB -> replaced once idle
const leaked = memory();
// The proxy runs at most one reclaiming GC per RECLAIM_MIN_INTERVAL_MS (10 s): wait for the second.
await until(() => reclaims.length >= 2, 15_000);
for (let i = 0; i < 50; i++) await get('/after');
const recycled = memory();
await collectGarbage();
const recycledGc = memory();
const f = (m) => `${m.rss.toFixed(0)} MiB`;
process.stdout.write(
  `memory bomb (memory_mb 64): answered ${bomb.status} in ${bomb.ms.toFixed(0)} ms; RSS before ${f(before)} (after a gc), peak ${during.peak.toFixed(0)} MiB (+${(during.peak - before.rss).toFixed(0)}), ` +
    `after the instance was replaced ${f(after)}, after a gc ${f(afterGc)}\n` +
    `leak to >48 MiB then idle replacement: ${f(leaked)} -> ${f(recycled)}, after a gc ${f(recycledGc)}\n` +
    `the proxy's own reclaiming GCs: ${reclaims.map((r) => `${(r.releasedBytes / 1048576).toFixed(0)} MiB released, gc ${r.gcMs} ms (${r.gcCpuMs} ms CPU)`).join('; ') || 'none'}\n`,
);
child.kill('SIGTERM');
upstream.close();
