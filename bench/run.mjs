#!/usr/bin/env node
// Outrigger benchmark: requests/s and proxy CPU time per request, on loopback, for
//   direct (no proxy) · @fastify/http-proxy · Outrigger with 0, 1 and 3 filters.
// Every server runs in its own child process; autocannon runs in this process. Configurations are
// interleaved in many short rounds (every other round in reverse order); medians of the rounds are
// reported, and each goal is judged on the median of its per-round ratios.
// See bench/README.md.  Usage: node bench/run.mjs [--rounds N] [--duration S] [--warmup S]
//   [--connections N] [--only id,id] [--profile] [--out FILE]      (BENCH_QUICK=1: a short smoke run)

import autocannon from 'autocannon';
import { buildFloorFilters } from './floor-filters/build.mjs';
import { buildFilter } from '../scripts/build-filters.mjs';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH_DIR, '..');
const FILTERS_DIR = path.join(ROOT, 'filters');
const EXIT_WITH_PARENT = pathToFileURL(path.join(BENCH_DIR, 'exit-with-parent.mjs')).href;
const BODY = 'hello, world\n';
const API_KEY = 'bench-key';

// ---------------------------------------------------------------------------------------------
// Options

/** Flags for every proxy child (none by default: each runs as `node <script>`). */
const DEFAULT_NODE_FLAGS = '';

const USAGE = `usage: node bench/run.mjs [options]     (npm run bench builds first)
  --rounds N         rounds; every configuration is measured once per round (default 20; quick 1)
  --duration S       measured seconds per measurement (default 2; quick 2)
  --warmup S         discarded warm-up seconds before each measurement (default 1; quick 1)
  --connections N    autocannon connections, pipelining 1 (default 50)
  --only LIST        comma-separated subset of: direct,fastify,outrigger-0,outrigger-1,outrigger-3
                     (default all of those), plus floor-null-3,floor-raw-3,read-3,outrigger-3-untimed,
                     outrigger-3-timed-all
                     (see bench/README.md)
  --profile          run the proxies under node --cpu-prof and print their top self-time functions
                     (the profiler slows them: numbers from such a run are not comparable)
  --out FILE         JSON results (default bench/results/latest.json)
  --together A,B     load two proxy configurations at the same time (half the connections each)
                     in every round and report the difference of their CPU per request: both
                     see the same state of the machine (default 12 rounds of 5 s, over 4 sessions
                     of fresh processes started in alternating order); no goal checks
  --b-filters DIR    with --together: B's .wasm come from DIR (e.g. the examples built with a
                     changed SDK); A and B may then name the same configuration
  --b-env K=V[,K=V]  with --together: environment for B's proxy process only (e.g.
                     OUTRIGGER_UNSAFE_NO_SANDBOX=1 to measure the sandbox); A and B may then name
                     the same configuration
  --b-root DIR       with --together: B's proxy is DIR/bin/outrigger.js, another checkout's build
                     (e.g. a worktree of an older commit, after its own npm ci and tsc), for a
                     before/after of the host itself; A and B may then name the same configuration
  --node-flags STR   V8/node flags for every proxy child, fastify and Outrigger alike
                     (e.g. "--max-semi-space-size=32"; default none)
env BENCH_QUICK=1    short smoke run (flags still override)`;

let args;
try {
  args = parseArgs({
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      only: { type: 'string' },
      profile: { type: 'boolean', default: false },
      out: { type: 'string' },
      'node-flags': { type: 'string' },
      together: { type: 'string' },
      'b-filters': { type: 'string' },
      'b-env': { type: 'string' },
      'b-root': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (err) {
  process.stderr.write(`${err.message}\n${USAGE}\n`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const QUICK = !!process.env.BENCH_QUICK && process.env.BENCH_QUICK !== '0';
function num(v, dflt, name, { min = 0, integer = false } = {}) {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    process.stderr.write(`--${name}: expected a ${integer ? 'whole ' : ''}number >= ${min}, got ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return n;
}
const TOGETHER = args.together
  ? args.together
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)
  : null;
const OPTS = {
  rounds: num(args.rounds, QUICK ? 1 : TOGETHER ? 12 : 20, 'rounds', { min: 1, integer: true }),
  duration: num(args.duration, QUICK ? 2 : TOGETHER ? 5 : 2, 'duration', { min: 1, integer: true }),
  warmup: num(args.warmup, QUICK ? 1 : 1, 'warmup', { min: 0, integer: true }),
  connections: num(args.connections, 50, 'connections', { min: 1, integer: true }),
  profile: args.profile,
  quick: QUICK,
  out: path.resolve(args.out ?? path.join(BENCH_DIR, 'results', 'latest.json')),
  nodeFlags: args['node-flags'] ?? DEFAULT_NODE_FLAGS,
};

// ---------------------------------------------------------------------------------------------
// The configurations

const F_REQUEST_ID = { name: 'request-id', file: 'request_id.wasm' };
const F_ADD_HEADER = { name: 'add-header', file: 'add_header.wasm', config: { header: 'x-hello', value: 'world' } };
const F_API_KEY = { name: 'api-key-auth', file: 'api_key_auth.wasm', config: { header: 'x-api-key', keys: [API_KEY] } };

const ALL_CONFIGS = [
  { id: 'direct', label: 'direct (no proxy)', kind: 'direct' },
  { id: 'fastify', label: '@fastify/http-proxy', kind: 'fastify' },
  { id: 'outrigger-0', label: 'Outrigger, 0 filters', kind: 'outrigger', filters: [] },
  { id: 'outrigger-1', label: 'Outrigger, 1 filter', kind: 'outrigger', filters: [F_ADD_HEADER] },
  { id: 'outrigger-3', label: 'Outrigger, 3 filters', kind: 'outrigger', filters: [F_REQUEST_ID, F_ADD_HEADER, F_API_KEY] },
  // The floor under the SDK (only with --only): hand-written filters from bench/floor-filters that
  // allocate nothing. floor-null-3: three that export every callback and do nothing (host, chain and
  // wasm boundary); floor-raw-3: three that make the example filters' host calls and nothing else.
  {
    id: 'floor-null-3',
    label: 'Outrigger, 3 empty raw filters',
    kind: 'outrigger',
    optional: true,
    filtersDir: 'floor',
    filters: [1, 2, 3].map((i) => ({ name: `null-${i}`, file: 'null.wasm' })),
  },
  {
    id: 'floor-raw-3',
    label: 'Outrigger, 3 raw filters',
    kind: 'outrigger',
    optional: true,
    filtersDir: 'floor',
    filters: [F_REQUEST_ID, F_ADD_HEADER, F_API_KEY].map((f) => ({ name: f.name, file: f.file })),
  },
  // outrigger-3 with the callback latency histogram off (callback_timing_sample: 0), to pair with
  // outrigger-3 (--together outrigger-3,outrigger-3-untimed) for what the timing costs.
  {
    id: 'outrigger-3-untimed',
    label: 'Outrigger, 3 filters, callbacks not timed',
    kind: 'outrigger',
    optional: true,
    filters: [F_REQUEST_ID, F_ADD_HEADER, F_API_KEY],
    extraYaml: ['callback_timing_sample: 0'],
  },
  // outrigger-3 with every callback timed (callback_timing_sample: 1, the default before it sampled one
  // in 16): --together outrigger-3-timed-all,outrigger-3 for what the sampled default saves.
  {
    id: 'outrigger-3-timed-all',
    label: 'Outrigger, 3 filters, every callback timed',
    kind: 'outrigger',
    optional: true,
    filters: [F_REQUEST_ID, F_ADD_HEADER, F_API_KEY],
    extraYaml: ['callback_timing_sample: 1'],
  },
  // Only with --only: three SDK filters (bench/filters/require_header.ts) that each read one request
  // header and change nothing: the issue's "filters that pull single headers" workload, for context.
  // The goal checks stay on outrigger-3.
  {
    id: 'read-3',
    label: 'Outrigger, 3 header-reading filters',
    kind: 'outrigger',
    optional: true,
    filtersDir: 'bench-filters',
    filters: [':path', ':authority', 'x-api-key'].map((h, i) => ({ name: `require-header-${i + 1}`, file: 'require_header.wasm', config: { header: h } })),
  },
];
/** Order within a round (reversed every other round): each goal's pair of configurations adjacent. */
const ROUND_ORDER = [
  'direct',
  'outrigger-1',
  'fastify',
  'outrigger-3',
  'outrigger-3-untimed',
  'outrigger-3-timed-all',
  'outrigger-0',
  'floor-null-3',
  'floor-raw-3',
  'read-3',
];
let CONFIGS = ALL_CONFIGS.filter((c) => !c.optional);
if (args.only) {
  const ids = args.only
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = ids.filter((id) => !ALL_CONFIGS.some((c) => c.id === id));
  if (unknown.length || !ids.length) {
    process.stderr.write(`--only: unknown configuration(s) ${unknown.join(', ')}; valid: ${ALL_CONFIGS.map((c) => c.id).join(', ')}\n`);
    process.exit(2);
  }
  CONFIGS = ALL_CONFIGS.filter((c) => ids.includes(c.id));
}
if (TOGETHER) {
  const bDir = args['b-filters'] ? path.resolve(args['b-filters']) : null;
  const bRoot = args['b-root'] ? path.resolve(args['b-root']) : null;
  const bEnv = args['b-env'] ? Object.fromEntries(args['b-env'].split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])) : null;
  const ok =
    TOGETHER.length === 2 &&
    (TOGETHER[0] !== TOGETHER[1] || bDir !== null || bEnv !== null || bRoot !== null) &&
    TOGETHER.every((id) => ALL_CONFIGS.some((c) => c.id === id && c.kind !== 'direct')) &&
    (bDir === null || ALL_CONFIGS.find((c) => c.id === TOGETHER[1]).kind === 'outrigger');
  if (!ok || args.only) {
    process.stderr.write(
      `--together: two different proxy configurations (not direct), without --only (the same one twice with --b-filters, B an Outrigger one); valid: ${ALL_CONFIGS.filter(
        (c) => c.kind !== 'direct',
      )
        .map((c) => c.id)
        .join(', ')}\n`,
    );
    process.exit(2);
  }
  CONFIGS = TOGETHER.map((id) => ALL_CONFIGS.find((c) => c.id === id));
  if (bDir) CONFIGS[1] = { ...CONFIGS[1], id: `${CONFIGS[1].id}(b)`, label: `${CONFIGS[1].label}, .wasm from ${bDir}`, filtersPath: bDir };
  if (bEnv)
    CONFIGS[1] = {
      ...CONFIGS[1],
      id: CONFIGS[1].id.endsWith('(b)') ? CONFIGS[1].id : `${CONFIGS[1].id}(b)`,
      label: `${CONFIGS[1].label}, env ${args['b-env']}`,
      env: bEnv,
    };
  if (bRoot)
    CONFIGS[1] = {
      ...CONFIGS[1],
      id: CONFIGS[1].id.endsWith('(b)') ? CONFIGS[1].id : `${CONFIGS[1].id}(b)`,
      label: `${CONFIGS[1].label}, host from ${bRoot}`,
      root: bRoot,
    };
} else if (args['b-filters'] || args['b-env'] || args['b-root']) {
  process.stderr.write('--b-filters, --b-env, --b-root: only with --together\n');
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Child processes: all tracked, all killed on any way out.

const children = new Set();
let tmpDir = null;
const problems = []; // everything that makes this run's numbers suspect; printed loudly at the end

function flag(config, message) {
  problems.push({ config, message });
  process.stderr.write(`\n!!! ${config ? `[${config}] ` : ''}${message}\n`);
}

function killAllNow() {
  for (const rec of children) {
    try {
      rec.child.kill('SIGKILL');
    } catch {}
  }
  if (tmpDir) {
    try {
      rmSync(tmpDir, { recursive: true, force: true });
    } catch {}
  }
}
process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    process.stderr.write(`\n${sig}: stopping the benchmark's child processes\n`);
    stopAll(2000).finally(() => process.exit(130));
  });
}
process.on('uncaughtException', (err) => {
  process.stderr.write(`\nbenchmark failed: ${err instanceof Error ? err.stack : err}\n`);
  killAllNow();
  process.exit(1);
});
process.on('unhandledRejection', (/** @type {any} */ err) => {
  process.stderr.write(`\nbenchmark failed: ${err?.stack ?? err}\n`);
  killAllNow();
  process.exit(1);
});

/** Starts `node <args>` with the exit-with-parent guard; collects its output lines. */
function startChild(name, nodeArgs, extraNodeFlags = [], extraEnv = null) {
  const child = spawn(process.execPath, ['--import', EXIT_WITH_PARENT, ...extraNodeFlags, ...nodeArgs], {
    cwd: ROOT,
    env: extraEnv ? { ...process.env, ...extraEnv } : process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const rec = {
    name,
    child,
    pid: child.pid,
    tail: [], // last lines of stdout+stderr, for error reports
    warnLines: [], // pino lines with level >= 40 (warn), and anything on stderr
    warnCount: 0,
    listeners: new Set(),
    exit: null,
    exited: null,
  };
  rec.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      rec.exit = { code, signal };
      children.delete(rec);
      resolve(rec.exit);
      for (const l of rec.listeners) l.onExit(rec.exit);
    });
  });
  child.on('error', (err) => {
    rec.tail.push(`spawn error: ${err.message}`);
  });
  const remember = (line, isStderr) => {
    rec.tail.push((isStderr ? '[stderr] ' : '') + line);
    if (rec.tail.length > 60) rec.tail.shift();
    let obj = null;
    if (!isStderr && line.startsWith('{')) {
      try {
        obj = JSON.parse(line);
      } catch {}
    }
    if (isStderr || (obj && typeof obj.level === 'number' && obj.level >= 40)) {
      rec.warnCount++;
      if (rec.warnLines.length < 20) rec.warnLines.push((isStderr ? '[stderr] ' : '') + line);
    }
    if (obj) for (const l of rec.listeners) l.onLine(obj);
  };
  createInterface({ input: child.stdout }).on('line', (l) => remember(l, false));
  createInterface({ input: child.stderr }).on('line', (l) => remember(l, true));
  children.add(rec);
  return rec;
}

/**
 * Resolves with the first JSON stdout line matching `pred`; rejects on exit or timeout. 60 s: on the
 * shared machine under load, a proxy's start-up (binaryen instrumenting three filters) took over 20 s.
 */
function waitForLine(rec, pred, what, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    if (rec.exit) return reject(new Error(`${rec.name} exited (${JSON.stringify(rec.exit)}) before ${what}\n  ${rec.tail.join('\n  ')}`));
    const listener = {
      onLine(obj) {
        if (pred(obj)) done(null, obj);
      },
      onExit(exit) {
        done(new Error(`${rec.name} exited (code ${exit.code}, signal ${exit.signal}) before ${what}; its last output:\n  ${rec.tail.join('\n  ')}`));
      },
    };
    const timer = setTimeout(
      () => done(new Error(`${rec.name}: no ${what} after ${timeoutMs} ms; its last output:\n  ${rec.tail.join('\n  ') || '(none)'}`)),
      timeoutMs,
    );
    function done(err, obj) {
      clearTimeout(timer);
      rec.listeners.delete(listener);
      if (err) reject(err);
      else resolve(obj);
    }
    rec.listeners.add(listener);
  });
}

async function stopChild(rec, graceMs) {
  if (rec.exit) return;
  try {
    rec.child.kill('SIGTERM');
  } catch {}
  const t = sleep(graceMs).then(() => 'timeout');
  if ((await Promise.race([rec.exited, t])) === 'timeout') {
    try {
      rec.child.kill('SIGKILL');
    } catch {}
    await rec.exited;
  }
}

async function stopAll(graceMs = 5000) {
  await Promise.all([...children].map((rec) => stopChild(rec, graceMs)));
}

// ---------------------------------------------------------------------------------------------
// Measuring: /proc/<pid>/stat CPU ticks (same method for every process), /proc/stat machine idle.

let CLK_TCK = 100;
try {
  CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {}

/** utime and stime of a process (all its threads), in microseconds; null if unreadable. */
function procCpu(pid) {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return { user: (Number(f[11]) * 1e6) / CLK_TCK, sys: (Number(f[12]) * 1e6) / CLK_TCK }; // fields 14, 15
  } catch {
    return null;
  }
}
/** utime+stime of a process, in microseconds; null if unreadable. */
function procCpuUs(pid) {
  const c = procCpu(pid);
  return c && c.user + c.sys;
}

/** Read and write syscalls made so far by a process (/proc/<pid>/io); null if unreadable. */
function procSyscalls(pid) {
  if (!pid) return null;
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    return { r: Number(/^syscr:\s*(\d+)/m.exec(io)[1]), w: Number(/^syscw:\s*(\d+)/m.exec(io)[1]) };
  } catch {
    return null;
  }
}

/** [busy, total] jiffies of the whole machine. */
function machineTicks() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
    const total = v.reduce((a, b) => a + b, 0);
    return [total - v[3] - v[4], total];
  } catch {
    return [NaN, NaN];
  }
}

function runAutocannon(url, seconds, connections = OPTS.connections) {
  return autocannon({
    url,
    connections,
    pipelining: 1,
    duration: seconds,
    headers: { 'x-api-key': API_KEY },
    expectBody: BODY,
  });
}

async function measure(cfg, target, upstreamPid, round) {
  if (OPTS.warmup > 0) {
    const w = await runAutocannon(target.url, OPTS.warmup);
    const bad = w.non2xx + w.errors + w.timeouts + w.mismatches;
    if (bad)
      flag(
        cfg.id,
        `warm-up (round ${round}): ${w.non2xx} non-2xx, ${w.errors} errors, ${w.timeouts} timeouts, ${w.mismatches} body mismatches; status codes ${JSON.stringify(w.statusCodeStats)}`,
      );
    await sleep(200);
  }
  const proxyPid = target.rec?.pid;
  const pc0 = procCpu(proxyPid);
  const p0 = pc0 && pc0.user + pc0.sys;
  const io0 = procSyscalls(proxyPid);
  const u0 = procCpuUs(upstreamPid);
  const s0 = process.cpuUsage();
  const [mb0, mt0] = machineTicks();
  const t0 = process.hrtime.bigint();
  const r = await runAutocannon(target.url, OPTS.duration);
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const pc1 = procCpu(proxyPid);
  const p1 = pc1 && pc1.user + pc1.sys;
  const io1 = procSyscalls(proxyPid);
  const u1 = procCpuUs(upstreamPid);
  const s1 = process.cpuUsage(s0);
  const [mb1, mt1] = machineTicks();

  const requests = r.requests.total;
  const m = {
    round,
    config: cfg.id,
    requests,
    seconds: r.duration,
    rps: requests / r.duration,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    mismatches: r.mismatches,
    resets: r.resets,
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats).map(([k, v]) => [k, v.count])),
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, avg: r.latency.average, max: r.latency.max },
    proxyCpuUs: proxyPid ? p1 - p0 : null,
    proxyCpuUsPerReq: proxyPid && requests ? (p1 - p0) / requests : null,
    proxyUserUsPerReq: pc0 && pc1 && requests ? (pc1.user - pc0.user) / requests : null,
    proxySysUsPerReq: pc0 && pc1 && requests ? (pc1.sys - pc0.sys) / requests : null,
    proxyCpuPctOfCore: proxyPid ? ((p1 - p0) / 1e6 / wallS) * 100 : null,
    proxyReadSyscallsPerReq: io0 && io1 && requests ? (io1.r - io0.r) / requests : null,
    proxyWriteSyscallsPerReq: io0 && io1 && requests ? (io1.w - io0.w) / requests : null,
    upstreamCpuUsPerReq: requests && u0 !== null && u1 !== null ? (u1 - u0) / requests : null,
    loadgenCpuUsPerReq: requests ? (s1.user + s1.system) / requests : null,
    machineBusyPct: ((mb1 - mb0) / (mt1 - mt0)) * 100,
  };
  if (proxyPid && target.rec.exit)
    flag(cfg.id, `the proxy process exited during round ${round}: ${JSON.stringify(target.rec.exit)}\n  ${target.rec.tail.join('\n  ')}`);
  if (m.non2xx || m.errors || m.timeouts || m.mismatches)
    flag(
      cfg.id,
      `round ${round}: ${m.non2xx} non-2xx, ${m.errors} errors, ${m.timeouts} timeouts, ${m.mismatches} body mismatches of ${requests} responses; status codes ${JSON.stringify(m.statusCodes)}`,
    );
  if (!requests) flag(cfg.id, `round ${round}: no responses at all`);
  return m;
}

/**
 * --together: both proxies under load at once, each from its own autocannon with half the
 * connections, so that both pay whatever state the machine is in. Which load starts first
 * alternates by round.
 */
async function measureTogether(pair, targets, round) {
  const connections = Math.max(1, Math.floor(OPTS.connections / 2));
  const load = (cfg, seconds) => runAutocannon(targets[cfg.id].url, seconds, connections);
  const order = round % 2 ? pair : [...pair].reverse();
  if (OPTS.warmup > 0) {
    await Promise.all(order.map((c) => load(c, OPTS.warmup)));
    await sleep(200);
  }
  const before = pair.map((c) => procCpuUs(targets[c.id].rec.pid));
  const results = await Promise.all(order.map((c) => load(c, OPTS.duration)));
  const after = pair.map((c) => procCpuUs(targets[c.id].rec.pid));
  return pair.map((cfg, i) => {
    const r = results[order.indexOf(cfg)];
    const requests = r.requests.total;
    const m = {
      round,
      config: cfg.id,
      requests,
      rps: requests / r.duration,
      non2xx: r.non2xx,
      errors: r.errors + r.timeouts + r.mismatches,
      proxyCpuUsPerReq: requests && before[i] !== null && after[i] !== null ? (after[i] - before[i]) / requests : null,
    };
    if (m.non2xx || m.errors || !requests) flag(cfg.id, `round ${round}: ${m.non2xx} non-2xx, ${m.errors} errors of ${requests} responses`);
    return m;
  });
}

/** The .wasm of the optional configurations (bench/floor-filters, bench/filters) into tmpDir. */
async function buildBenchFilters() {
  if (CONFIGS.some((c) => c.filtersDir === 'floor')) await buildFloorFilters(path.join(tmpDir, 'floor'));
  if (CONFIGS.some((c) => c.filtersDir === 'bench-filters'))
    await buildFilter(path.join(BENCH_DIR, 'filters', 'require_header.ts'), path.join(tmpDir, 'bench-filters', 'require_header.wasm'));
}

/**
 * --together: the rounds are split over sessions of fresh processes (upstream included), started A
 * then B, then B then A, and so on: whatever favours one process of a pair for its lifetime (start
 * order, where the scheduler put it; an A/A pair of one session differed by up to ~1.8 µs/req)
 * falls on each side alike.
 */
async function runTogether(env) {
  const pair = CONFIGS;
  await buildBenchFilters();
  const sessions = OPTS.rounds >= 8 ? 4 : OPTS.rounds >= 2 ? 2 : 1;
  process.stdout.write(
    `Outrigger benchmark, together: ${pair.map((c) => c.id).join(' and ')} at the same time, ${Math.max(1, Math.floor(OPTS.connections / 2))} connections each\n` +
      `  ${OPTS.rounds} round(s) of ${OPTS.warmup}s warm-up + ${OPTS.duration}s over ${sessions} session(s) of fresh processes; node ${env.node}, ${env.cpus} CPU(s)` +
      `${env.git.commit ? `, git ${env.git.commit.slice(0, 10)}${env.git.dirty ? ' (dirty)' : ''}` : ''}\n`,
  );
  const measurements = [];
  let round = 0;
  for (let session = 0; session < sessions; session++) {
    const upstream = await startUpstream();
    const targets = {};
    const startOrder = session % 2 ? [pair[1], pair[0]] : pair;
    for (const cfg of startOrder) {
      targets[cfg.id] = cfg.kind === 'fastify' ? await startFastify(cfg, upstream.url) : await startOutrigger(cfg, upstream.url);
      const check = await checkTarget(cfg, targets[cfg.id].url);
      if (!check.ok) {
        await stopAll();
        process.stderr.write(`--together: ${cfg.id} failed its functional check\n`);
        process.exit(1);
      }
    }
    // Fresh processes: let the JIT settle before measuring (the rounds' warm-ups are short).
    await Promise.all(pair.map((c) => runAutocannon(targets[c.id].url, 3, Math.max(1, Math.floor(OPTS.connections / 2)))));
    const n = Math.floor(OPTS.rounds / sessions) + (session < OPTS.rounds % sessions ? 1 : 0);
    for (let i = 0; i < n; i++) {
      round++;
      const ms = await measureTogether(pair, targets, round);
      for (const m of ms) m.startedFirst = startOrder[0].id;
      measurements.push(...ms);
      process.stdout.write(
        `  round ${round}/${OPTS.rounds} (${startOrder[0].id} started first)  ${ms.map((m) => `${m.config} ${fmt(m.proxyCpuUsPerReq, 1)} µs/req ${fmt(m.rps)} req/s`).join('   ')}\n`,
      );
      await sleep(200);
    }
    await stopAll();
  }
  const r = reportTogether(pair, measurements);
  process.stdout.write(`${r.text}\n`);
  if (problems.length)
    process.stdout.write(
      `\n!!! ${problems.length} PROBLEM(S):\n${problems.map((p) => `  - ${p.config ? `[${p.config}] ` : ''}${p.message.split('\n')[0]}`).join('\n')}\n`,
    );
  mkdirSync(path.dirname(OPTS.out), { recursive: true });
  writeFileSync(
    OPTS.out,
    JSON.stringify(
      { generatedAt: new Date().toISOString(), options: { ...OPTS, together: TOGETHER }, environment: env, together: r, measurements, problems },
      null,
      2,
    ),
  );
  process.stdout.write(`\nresults: ${path.relative(process.cwd(), OPTS.out)}\n`);
  process.exit(problems.length ? 1 : 0);
}

function reportTogether(pair, measurements) {
  const [a, b] = pair.map((c) => c.id);
  const rows = [];
  const diffs = [];
  const ratios = [];
  for (const ma of measurements.filter((m) => m.config === a)) {
    const mb = measurements.find((m) => m.config === b && m.round === ma.round);
    if (!mb || ma.proxyCpuUsPerReq == null || mb.proxyCpuUsPerReq == null) continue;
    diffs.push(mb.proxyCpuUsPerReq - ma.proxyCpuUsPerReq);
    ratios.push(ma.proxyCpuUsPerReq / mb.proxyCpuUsPerReq);
    rows.push([
      String(ma.round),
      ma.startedFirst ?? '-',
      fmt(ma.proxyCpuUsPerReq, 1),
      fmt(mb.proxyCpuUsPerReq, 1),
      (diffs.at(-1) >= 0 ? '+' : '') + diffs.at(-1).toFixed(1),
      fmt(ma.rps),
      fmt(mb.rps),
    ]);
  }
  const out = [];
  out.push('');
  out.push(
    `Together: ${a} and ${b} loaded at the same time, ${Math.max(1, Math.floor(OPTS.connections / 2))} connections each; ${OPTS.rounds} round(s) of ${OPTS.duration}s after ${OPTS.warmup}s warm-up`,
  );
  out.push(table(['round', 'started first', `${a} µs/req`, `${b} µs/req`, `${b} − ${a}`, `${a} req/s`, `${b} req/s`], rows));
  if (diffs.length) {
    const spread = diffs.length >= 4 ? ` (middle half ${quantile(diffs, 0.25).toFixed(1)}..${quantile(diffs, 0.75).toFixed(1)})` : '';
    out.push('');
    out.push(`  ${b} − ${a}: median ${median(diffs).toFixed(1)} µs of proxy CPU per request${spread}`);
    out.push(`  CPU efficiency of ${b} relative to ${a} (${a} µs/req ÷ ${b} µs/req): median ${median(ratios).toFixed(3)}x`);
  }
  return { text: out.join('\n'), medianDiffUs: median(diffs), medianCpuRatio: median(ratios), diffs, ratios };
}

// ---------------------------------------------------------------------------------------------
// Functional check before measuring: the filters really run (and requests really pass).

function httpGet(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false, timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function checkTarget(cfg, url) {
  const failures = [];
  const expect = (ok, msg) => {
    if (!ok) failures.push(msg);
  };
  try {
    const plain = await httpGet(`${url}/`, { 'x-api-key': API_KEY });
    expect(
      plain.status === 200 && plain.body === BODY,
      `GET / with the key: expected 200 ${JSON.stringify(BODY)}, got ${plain.status} ${JSON.stringify(plain.body.slice(0, 200))}`,
    );
    const echo = await httpGet(`${url}/__bench/headers`, { 'x-api-key': API_KEY });
    expect(echo.status === 200, `GET /__bench/headers: expected 200, got ${echo.status} ${echo.body.slice(0, 200)}`);
    const seen = echo.status === 200 ? JSON.parse(echo.body) : {};
    const names = (cfg.filters ?? []).map((f) => f.name);
    if (names.includes('add-header')) {
      expect(seen['x-hello'] === 'world', `add-header: the upstream did not get x-hello: world (got ${JSON.stringify(seen['x-hello'])})`);
      expect(echo.headers['x-hello'] === 'world', `add-header: the response has no x-hello: world (got ${JSON.stringify(echo.headers['x-hello'])})`);
    } else expect(seen['x-hello'] === undefined, 'unexpected x-hello header upstream');
    if (names.includes('request-id')) {
      expect(!!seen['x-request-id'], 'request-id: the upstream got no x-request-id');
      expect(
        echo.headers['x-request-id'] === seen['x-request-id'],
        `request-id: response x-request-id ${JSON.stringify(echo.headers['x-request-id'])} differs from the upstream's ${JSON.stringify(seen['x-request-id'])}`,
      );
    }
    if (names.includes('api-key-auth')) {
      expect(seen['x-api-key'] === undefined, 'api-key-auth: the key header reached the upstream (it should be removed)');
      const denied = await httpGet(`${url}/`);
      expect(denied.status === 401, `api-key-auth: a request without the key got ${denied.status}, expected 401`);
    } else expect(seen['x-api-key'] === API_KEY, 'x-api-key did not reach the upstream unchanged');
    if (names.some((n) => n.startsWith('require-header'))) {
      const denied = await httpGet(`${url}/`);
      expect(denied.status === 400, `require-header: a request without x-api-key got ${denied.status}, expected 400`);
    }
  } catch (err) {
    failures.push(`request failed: ${err.message}`);
  }
  for (const f of failures) flag(cfg.id, `functional check: ${f}`);
  return { ok: failures.length === 0, failures };
}

// ---------------------------------------------------------------------------------------------
// Starting the servers

async function startUpstream() {
  const rec = startChild('upstream', [path.join(BENCH_DIR, 'upstream.mjs')]);
  const { port } = await waitForLine(rec, (o) => typeof o.port === 'number', 'its port');
  return { rec, url: `http://127.0.0.1:${port}` };
}

/** V8 flags every proxy child runs with (the same for fastify and Outrigger): --node-flags. */
function proxyNodeFlags() {
  return OPTS.nodeFlags ? OPTS.nodeFlags.split(/\s+/).filter(Boolean) : [];
}

function profileFlags(cfg) {
  if (!OPTS.profile) return proxyNodeFlags();
  const dir = path.join(path.dirname(OPTS.out), 'profiles', cfg.id);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return [...proxyNodeFlags(), '--cpu-prof', `--cpu-prof-dir=${dir}`];
}

async function startFastify(cfg, upstreamUrl) {
  const rec = startChild(cfg.id, [path.join(BENCH_DIR, 'fastify-proxy.mjs'), upstreamUrl], profileFlags(cfg));
  const { port } = await waitForLine(rec, (o) => typeof o.port === 'number', 'its port');
  return { rec, url: `http://127.0.0.1:${port}` };
}

function outriggerYaml(cfg, upstreamUrl) {
  const q = JSON.stringify; // JSON scalars and flow mappings are valid YAML
  const lines = [
    `# generated by bench/run.mjs for ${cfg.id}`,
    'listen: 127.0.0.1:0',
    'admin: 127.0.0.1:0',
    `upstream: ${q(upstreamUrl)}`,
    `filters_dir: ${q(cfg.filtersPath ?? (cfg.filtersDir ? path.join(tmpDir, cfg.filtersDir) : FILTERS_DIR))}`,
    'log_level: info', // the default; needed for the "outrigger ready" line, which carries the bound ports
    ...(cfg.extraYaml ?? []),
  ];
  if (!cfg.filters.length) lines.push('filters: []');
  else {
    lines.push('filters:');
    for (const f of cfg.filters) {
      lines.push(`  - name: ${q(f.name)}`, `    file: ${q(f.file)}`);
      if (f.config) lines.push(`    config: ${q(f.config)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

async function startOutrigger(cfg, upstreamUrl) {
  const file = path.join(tmpDir, `${cfg.id}.yaml`);
  writeFileSync(file, outriggerYaml(cfg, upstreamUrl));
  const rec = startChild(cfg.id, [path.join(cfg.root ?? ROOT, 'bin', 'outrigger.js'), 'start', '--config', file], profileFlags(cfg), cfg.env ?? null);
  const ready = await waitForLine(rec, (o) => o.msg === 'outrigger ready', 'the "outrigger ready" log line');
  return { rec, url: `http://${ready.listen}`, adminUrl: ready.admin ? `http://${ready.admin}` : null, configFile: file };
}

// ---------------------------------------------------------------------------------------------
// Pre-flight

function preflight() {
  const errs = [];
  if (!existsSync(path.join(ROOT, 'dist', 'host', 'cli.js'))) errs.push('dist/host/cli.js is missing: run `npm run build` (or `npx tsc -p tsconfig.json`)');
  for (const f of [F_REQUEST_ID, F_ADD_HEADER, F_API_KEY])
    if (!existsSync(path.join(FILTERS_DIR, f.file))) errs.push(`filters/${f.file} is missing: run \`npm run build:filters\``);
  if (!existsSync('/proc/self/stat')) errs.push('/proc is not available: this benchmark reads CPU time from /proc/<pid>/stat (Linux only)');
  if (errs.length) {
    process.stderr.write(errs.map((e) => `bench: ${e}\n`).join(''));
    process.exit(1);
  }
  // A stale build measures old code: warn when a host/*.ts is newer than its dist/*.js.
  const stale = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        const js = path.join(ROOT, 'dist', path.relative(ROOT, p)).replace(/\.ts$/, '.js');
        if (!existsSync(js) || statSync(js).mtimeMs < statSync(p).mtimeMs) stale.push(path.relative(ROOT, p));
      }
    }
  };
  try {
    walk(path.join(ROOT, 'host'));
  } catch {}
  if (stale.length)
    process.stderr.write(
      `bench: warning: dist/ is older than ${stale.slice(0, 5).join(', ')}${stale.length > 5 ? ` (+${stale.length - 5} more)` : ''}; run \`npx tsc -p tsconfig.json\` (npm run bench does)\n`,
    );
  return { staleSources: stale };
}

function environment() {
  const ver = (pkg) => {
    try {
      return JSON.parse(readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
    } catch {
      return null;
    }
  };
  const git = (...a) => {
    try {
      return execFileSync('git', a, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return null;
    }
  };
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: cpus.length,
    availableParallelism: os.availableParallelism?.() ?? cpus.length,
    cpuModel: cpus[0]?.model ?? null,
    loadavgAtStart: os.loadavg(),
    clkTck: CLK_TCK,
    git: { commit: git('rev-parse', 'HEAD'), dirty: (git('status', '--porcelain') ?? '') !== '' },
    versions: {
      autocannon: ver('autocannon'),
      fastify: ver('fastify'),
      '@fastify/http-proxy': ver('@fastify/http-proxy'),
      '@fastify/reply-from': ver('@fastify/reply-from'),
      undici: ver('undici'),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Statistics and report

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}
const minOf = (xs) => (xs.length ? Math.min(...xs) : null);
const maxOf = (xs) => (xs.length ? Math.max(...xs) : null);
const ratio = (a, b) => (a != null && b != null && b !== 0 ? a / b : null);

function summarize(cfgs, measurements, invalid) {
  const byId = {};
  for (const cfg of cfgs) {
    const ms = measurements.filter((m) => m.config === cfg.id);
    const pick = (k) => ms.map((m) => m[k]).filter((x) => x != null);
    byId[cfg.id] = {
      label: cfg.label,
      runs: ms.length,
      rps: median(pick('rps')),
      rpsMin: minOf(pick('rps')),
      rpsMax: maxOf(pick('rps')),
      proxyCpuUsPerReq: median(pick('proxyCpuUsPerReq')),
      proxyCpuUsPerReqMin: minOf(pick('proxyCpuUsPerReq')),
      proxyCpuUsPerReqMax: maxOf(pick('proxyCpuUsPerReq')),
      proxyUserUsPerReq: median(pick('proxyUserUsPerReq')),
      proxySysUsPerReq: median(pick('proxySysUsPerReq')),
      proxyCpuPctOfCore: median(pick('proxyCpuPctOfCore')),
      proxyReadSyscallsPerReq: median(pick('proxyReadSyscallsPerReq')),
      proxyWriteSyscallsPerReq: median(pick('proxyWriteSyscallsPerReq')),
      upstreamCpuUsPerReq: median(pick('upstreamCpuUsPerReq')),
      loadgenCpuUsPerReq: median(pick('loadgenCpuUsPerReq')),
      machineBusyPct: median(pick('machineBusyPct')),
      latencyP50Ms: median(ms.map((m) => m.latencyMs.p50)),
      latencyP99Ms: median(ms.map((m) => m.latencyMs.p99)),
      requests: ms.reduce((a, m) => a + m.requests, 0),
      non2xx: ms.reduce((a, m) => a + m.non2xx, 0),
      errors: ms.reduce((a, m) => a + m.errors + m.timeouts + m.mismatches, 0),
      invalid: invalid.has(cfg.id),
    };
  }
  // Ratios of medians, and the medians of the per-round (paired) ratios.
  const paired = (a, b, key, invert = false) => {
    const out = [];
    for (const ma of measurements.filter((m) => m.config === a)) {
      const mb = measurements.find((m) => m.config === b && m.round === ma.round);
      if (mb && ma[key] != null && mb[key] != null) out.push(invert ? mb[key] / ma[key] : ma[key] / mb[key]);
    }
    return out;
  };
  const vsO0 = (id) => cfgs.some((c) => c.id === id && c.kind === 'outrigger');
  for (const [id, s] of Object.entries(byId)) {
    s.rpsVsFastify = byId.fastify ? ratio(s.rps, byId.fastify.rps) : null;
    s.rpsVsOutrigger0 = byId['outrigger-0'] && vsO0(id) ? ratio(s.rps, byId['outrigger-0'].rps) : null;
    // CPU "efficiency": how many times more requests per CPU-second than the reference (ref µs / this µs).
    s.cpuEfficiencyVsFastify = byId.fastify ? ratio(byId.fastify.proxyCpuUsPerReq, s.proxyCpuUsPerReq) : null;
    s.cpuEfficiencyVsOutrigger0 = byId['outrigger-0'] && vsO0(id) ? ratio(byId['outrigger-0'].proxyCpuUsPerReq, s.proxyCpuUsPerReq) : null;
    s.pairedRpsVsFastify = byId.fastify ? paired(id, 'fastify', 'rps') : [];
    s.pairedRpsVsOutrigger0 = byId['outrigger-0'] && vsO0(id) ? paired(id, 'outrigger-0', 'rps') : [];
    s.pairedCpuEfficiencyVsFastify = byId.fastify ? paired(id, 'fastify', 'proxyCpuUsPerReq', true) : [];
    s.pairedCpuEfficiencyVsOutrigger0 = byId['outrigger-0'] && vsO0(id) ? paired(id, 'outrigger-0', 'proxyCpuUsPerReq', true) : [];
  }
  return byId;
}

/** The q-quantile (0..1) of xs, interpolated between the sorted values. */
function quantile(xs, q) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const at = (v.length - 1) * q;
  const lo = Math.floor(at);
  return lo + 1 < v.length ? v[lo] + (v[lo + 1] - v[lo]) * (at - lo) : v[lo];
}

/**
 * Each goal is judged on the median of its per-round ratios: the two configurations of a round ran
 * seconds apart, in the same state of the machine, while the medians of each configuration mix
 * rounds from different states (on a shared VM its speed changes by half for tens of seconds at a
 * time). The ratio of the medians is reported alongside.
 */
function goalChecks(s) {
  const goals = [];
  const goal = (name, id, refId, key, pairedKey, threshold, cpuKey, cpuPairedKey) => {
    if (!s[id] || !s[refId]) return;
    const paired = s[id][pairedKey];
    const value = paired.length ? median(paired) : s[id][key];
    const invalid = s[id].invalid || s[refId].invalid;
    const pass = !invalid && value != null && value >= threshold;
    const q1 = quantile(paired, 0.25);
    const q3 = quantile(paired, 0.75);
    // Standard error of the median, from the spread of the rounds (normal approximation: σ ≈ IQR /
    // 1.349, SE ≈ 1.253 σ / √n). Within two of them of the threshold, another run may well say otherwise.
    const stdErr = paired.length >= 4 ? (1.253 * ((q3 - q1) / 1.349)) / Math.sqrt(paired.length) : null;
    const uncertain = stdErr !== null && value !== null && Math.abs(value - threshold) < 2 * stdErr;
    const cpuPaired = s[id][cpuPairedKey];
    const cpuBasedValue = cpuPaired.length ? median(cpuPaired) : s[id][cpuKey];
    goals.push({
      name,
      threshold,
      value,
      ratioOfMedians: s[id][key],
      paired,
      q1,
      q3,
      stdErr,
      pass,
      invalid,
      uncertain,
      cpuBasedValue,
      cpuBasedPaired: cpuPaired,
      cpuBasedPass: !invalid && cpuBasedValue != null && cpuBasedValue >= threshold,
    });
  };
  goal(
    'Outrigger-3 req/s >= 1.3x @fastify/http-proxy',
    'outrigger-3',
    'fastify',
    'rpsVsFastify',
    'pairedRpsVsFastify',
    1.3,
    'cpuEfficiencyVsFastify',
    'pairedCpuEfficiencyVsFastify',
  );
  goal(
    'Outrigger-3 >= 90% of Outrigger-0',
    'outrigger-3',
    'outrigger-0',
    'rpsVsOutrigger0',
    'pairedRpsVsOutrigger0',
    0.9,
    'cpuEfficiencyVsOutrigger0',
    'pairedCpuEfficiencyVsOutrigger0',
  );
  return goals;
}

function fmt(v, digits = 0) {
  if (v == null || !Number.isFinite(v)) return '-';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
const x = (v) => (v == null ? '-' : `${v.toFixed(2)}x`);

function table(headers, rows, alignLeft = [0]) {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (alignLeft.includes(i) ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ');
  return [line(headers), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

function report(cfgs, s, goals) {
  const out = [];
  const ids = cfgs.map((c) => c.id);
  const label = (id) => `${s[id].label}${s[id].invalid ? '  [INVALID]' : ''}`;
  out.push('');
  out.push(
    `Throughput (median of ${OPTS.rounds} round${OPTS.rounds === 1 ? '' : 's'}; ${OPTS.duration}s each after ${OPTS.warmup}s warm-up; ${OPTS.connections} connections, pipelining 1)`,
  );
  out.push(
    table(
      ['configuration', 'req/s', 'min..max', 'vs fastify', 'vs Outrigger-0', 'p50 ms', 'p99 ms', 'requests', 'non-2xx', 'errors'],
      ids.map((id) => [
        label(id),
        fmt(s[id].rps),
        `${fmt(s[id].rpsMin)}..${fmt(s[id].rpsMax)}`,
        x(s[id].rpsVsFastify),
        x(s[id].rpsVsOutrigger0),
        fmt(s[id].latencyP50Ms, 1),
        fmt(s[id].latencyP99Ms, 1),
        fmt(s[id].requests),
        fmt(s[id].non2xx),
        fmt(s[id].errors),
      ]),
    ),
  );
  out.push('');
  out.push('CPU time of the proxy process per request (utime+stime from /proc/<pid>/stat; lower is better)');
  out.push(
    table(
      [
        'configuration',
        'proxy µs/req',
        'min..max',
        'user+sys',
        'eff. vs fastify',
        'eff. vs Outrigger-0',
        'proxy %core',
        'syscalls/req r+w',
        'upstream µs/req',
        'loadgen µs/req',
        'machine busy',
      ],
      ids.map((id) => [
        label(id),
        fmt(s[id].proxyCpuUsPerReq, 1),
        s[id].proxyCpuUsPerReq == null ? '-' : `${fmt(s[id].proxyCpuUsPerReqMin, 1)}..${fmt(s[id].proxyCpuUsPerReqMax, 1)}`,
        s[id].proxyUserUsPerReq == null ? '-' : `${fmt(s[id].proxyUserUsPerReq, 1)}+${fmt(s[id].proxySysUsPerReq, 1)}`,
        x(s[id].cpuEfficiencyVsFastify),
        x(s[id].cpuEfficiencyVsOutrigger0),
        s[id].proxyCpuPctOfCore == null ? '-' : `${fmt(s[id].proxyCpuPctOfCore)}%`,
        s[id].proxyWriteSyscallsPerReq == null ? '-' : `${fmt(s[id].proxyReadSyscallsPerReq, 2)}+${fmt(s[id].proxyWriteSyscallsPerReq, 2)}`,
        fmt(s[id].upstreamCpuUsPerReq, 1),
        fmt(s[id].loadgenCpuUsPerReq, 1),
        s[id].machineBusyPct == null ? '-' : `${fmt(s[id].machineBusyPct)}%`,
      ]),
    ),
  );
  out.push('  eff. = reference µs/req ÷ this µs/req: requests per CPU-second relative to the reference (higher is better)');
  out.push('  syscalls/req = read + write system calls of the proxy per request (/proc/<pid>/io syscr, syscw)');
  if (goals.length) {
    out.push('');
    out.push('Goal checks (median of the per-round req/s ratios; each round runs the pair back to back. The ratio of the');
    out.push('medians and the CPU-based ratio, proxy µs/req, are shown for context)');
    for (const g of goals) {
      const verdict = g.invalid ? 'FAIL (a configuration had errors)' : g.pass ? 'PASS' : 'FAIL';
      const x2 = (v) => (v == null ? 'n/a' : `${v.toFixed(2)}x`);
      const spread = g.stdErr !== null ? `, ±${g.stdErr.toFixed(2)} (standard error), middle half ${g.q1.toFixed(2)}..${g.q3.toFixed(2)}` : '';
      const cpu = g.cpuBasedValue == null ? '' : `; by CPU/req ${x2(g.cpuBasedValue)} → ${g.cpuBasedPass ? 'pass' : 'fail'}`;
      out.push(`  ${verdict.padEnd(4)}  ${g.name}: ${x2(g.value)} (needs ${g.threshold}x${spread}; ratio of medians ${x2(g.ratioOfMedians)}${cpu})`);
      if (g.paired.length > 1) out.push(`        per round: ${g.paired.map((v) => v.toFixed(2)).join(' ')}`);
      if (g.uncertain)
        out.push(`        uncertain: the threshold is within two standard errors of the median; another run may say otherwise (more --rounds narrow it)`);
    }
  }
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// CPU profiles (--profile)

function analyzeProfile(file, top = 20) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const counts = new Map();
  for (const id of p.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  const shortUrl = (u) => {
    if (!u) return '';
    const s = u.replace(`${pathToFileURL(ROOT).href}/`, '').replace(/^.*node_modules\//, 'node_modules/');
    return s;
  };
  const category = (cf) => {
    const u = cf.url || '';
    if (cf.functionName === '(garbage collector)') return 'GC';
    if (cf.functionName === '(program)') return '(program: native/V8)';
    if (u.startsWith('wasm://') || /wasm-function/.test(cf.functionName)) return 'wasm (filters)';
    if (u.startsWith('node:')) return `node core (${u.match(/^node:internal\/([^/]+)/)?.[1] ?? u.slice(5)})`;
    const nm = u.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
    if (nm) return nm[1];
    if (u.includes('/dist/host/')) return `outrigger ${u.split('/dist/host/')[1].split('/').slice(0, -1).join('/') || 'host'}/`;
    if (u.includes('/bench/')) return 'bench';
    return u ? 'other' : '(native)';
  };
  let total = 0;
  let idle = 0;
  const byFn = new Map();
  const byCat = new Map();
  for (const [id, c] of counts) {
    const cf = nodes.get(id).callFrame;
    total += c;
    if (cf.functionName === '(idle)') {
      idle += c;
      continue;
    }
    const key = `${cf.functionName || '(anonymous)'}  ${shortUrl(cf.url)}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + c);
    const cat = category(cf);
    byCat.set(cat, (byCat.get(cat) ?? 0) + c);
  }
  const busy = total - idle;
  const rank = (m, n) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, c]) => ({ name: k, samples: c, pctOfBusy: (100 * c) / busy }));
  return { file, samples: total, busySamples: busy, topFunctions: rank(byFn, top), categories: rank(byCat, 25) };
}

// ---------------------------------------------------------------------------------------------
// Main

/** @returns {Promise<number>} the exit status */
async function main() {
  const pre = preflight();
  const env = environment();
  tmpDir = mkdtempSync(path.join(os.tmpdir(), 'outrigger-bench-'));
  if (TOGETHER) {
    await runTogether(env);
    return 0;
  }
  const perMeasure = OPTS.warmup + OPTS.duration + 0.4;
  const estimate = Math.round(CONFIGS.length * OPTS.rounds * perMeasure);
  process.stdout.write(
    `Outrigger benchmark: ${CONFIGS.map((c) => c.id).join(', ')}\n` +
      `  ${OPTS.rounds} round(s) × ${CONFIGS.length} configs × (${OPTS.warmup}s warm-up + ${OPTS.duration}s), ${OPTS.connections} connections; ~${Math.ceil(estimate / 60)} min\n` +
      `  node ${env.node}, ${env.cpus} CPU(s) (${env.cpuModel}), load average ${env.loadavgAtStart.map((l) => l.toFixed(2)).join(' ')}` +
      `${env.git.commit ? `, git ${env.git.commit.slice(0, 10)}${env.git.dirty ? ' (dirty)' : ''}` : ''}\n` +
      (OPTS.profile ? '  --profile: proxies run under --cpu-prof; their numbers are slowed by the profiler\n' : '') +
      (OPTS.quick ? '  BENCH_QUICK: smoke run, numbers are not meaningful\n' : ''),
  );

  await buildBenchFilters();
  const upstream = await startUpstream();
  const targets = {};
  const invalid = new Set();
  const checks = {};
  for (const cfg of CONFIGS) {
    try {
      if (cfg.kind === 'direct') targets[cfg.id] = { rec: null, url: upstream.url };
      else if (cfg.kind === 'fastify') targets[cfg.id] = await startFastify(cfg, upstream.url);
      else targets[cfg.id] = await startOutrigger(cfg, upstream.url);
    } catch (err) {
      flag(cfg.id, `failed to start: ${err.message}`);
      invalid.add(cfg.id);
      continue;
    }
    checks[cfg.id] = await checkTarget(cfg, targets[cfg.id].url);
    if (!checks[cfg.id].ok) invalid.add(cfg.id);
    process.stdout.write(
      `  started ${cfg.id.padEnd(12)} ${targets[cfg.id].url}${targets[cfg.id].rec ? `  pid ${targets[cfg.id].rec.pid}` : '  (the upstream itself)'}  check ${checks[cfg.id].ok ? 'ok' : 'FAILED'}\n`,
    );
  }
  const runnable = CONFIGS.filter((c) => targets[c.id]);

  const measurements = [];
  // The goal checks compare outrigger-3 with fastify and with outrigger-0 round by round: they run
  // next to each other, and every other round in reverse (A B B A), so that each pair shares the
  // machine's state of those few seconds and a drift during the run weighs on both sides alike.
  const base = [...runnable].sort((a, b) => ROUND_ORDER.indexOf(a.id) - ROUND_ORDER.indexOf(b.id));
  for (let round = 1; round <= OPTS.rounds; round++) {
    const order = round % 2 ? base : [...base].reverse();
    for (const cfg of order) {
      const t = targets[cfg.id];
      if (t.rec?.exit) {
        if (!invalid.has(cfg.id)) flag(cfg.id, `the proxy process is gone (${JSON.stringify(t.rec.exit)}); skipping it`);
        invalid.add(cfg.id);
        continue;
      }
      const m = await measure(cfg, t, upstream.rec.pid, round);
      if (m.non2xx || m.errors || m.timeouts || m.mismatches || !m.requests) invalid.add(cfg.id);
      measurements.push(m);
      process.stdout.write(
        `  round ${round}/${OPTS.rounds}  ${cfg.id.padEnd(12)} ${fmt(m.rps).padStart(7)} req/s` +
          `${m.proxyCpuUsPerReq != null ? `  proxy ${fmt(m.proxyCpuUsPerReq, 1).padStart(6)} µs/req (${fmt(m.proxyCpuPctOfCore)}% core)` : ''}` +
          `  p99 ${fmt(m.latencyMs.p99, 1)} ms${m.non2xx || m.errors ? `  NON-2XX ${m.non2xx} ERRORS ${m.errors}` : ''}\n`,
      );
      await sleep(200);
    }
  }

  // Outrigger's own counters and filter states after the load.
  const outriggerStats = {};
  for (const cfg of runnable.filter((c) => c.kind === 'outrigger')) {
    const t = targets[cfg.id];
    if (!t.adminUrl || t.rec.exit) continue;
    try {
      const stats = JSON.parse((await httpGet(`${t.adminUrl}/stats`)).body);
      const filters = JSON.parse((await httpGet(`${t.adminUrl}/filters`)).body);
      outriggerStats[cfg.id] = { stats, filters: filters.filters?.map((f) => ({ name: f.name, state: f.state, traps: f.traps, last_error: f.last_error })) };
      if (stats.upstreamErrors || stats.filterFaults)
        flag(cfg.id, `Outrigger /stats: ${stats.upstreamErrors} upstream errors, ${stats.filterFaults} filter faults`);
      for (const f of filters.filters ?? [])
        if (f.traps || f.state !== 'active') flag(cfg.id, `filter ${f.name}: state ${f.state}, ${f.traps} traps, last error ${f.last_error}`);
    } catch (err) {
      flag(cfg.id, `could not read the admin API: ${err.message}`);
    }
  }

  // Stop everything (gracefully: --cpu-prof writes its profile on a clean exit).
  const logs = {};
  for (const cfg of runnable) {
    const rec = targets[cfg.id].rec;
    if (rec) logs[cfg.id] = rec;
  }
  logs.upstream = upstream.rec;
  await stopAll(OPTS.profile ? 15_000 : 5000);

  const summary = summarize(runnable, measurements, invalid);
  const goals = goalChecks(summary);
  process.stdout.write(`${report(runnable, summary, goals)}\n`);

  const logSummary = {};
  for (const [id, rec] of Object.entries(logs)) {
    logSummary[id] = { pid: rec.pid, exit: rec.exit, warnOrStderrLines: rec.warnCount, firstWarnLines: rec.warnLines };
  }
  const noisy = Object.entries(logSummary).filter(([, l]) => l.warnOrStderrLines);
  if (noisy.length) {
    process.stdout.write('\nWarnings and stderr output of the servers (first lines):\n');
    for (const [id, l] of noisy) {
      process.stdout.write(`  ${id}: ${l.warnOrStderrLines} line(s)\n`);
      for (const line of l.firstWarnLines.slice(0, 4)) process.stdout.write(`    ${line.length > 240 ? `${line.slice(0, 240)}…` : line}\n`);
    }
  }

  let profiles = null;
  if (OPTS.profile) {
    profiles = {};
    for (const cfg of runnable.filter((c) => c.kind !== 'direct')) {
      const dir = path.join(path.dirname(OPTS.out), 'profiles', cfg.id);
      const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
      if (!files.length) {
        process.stdout.write(`\n${cfg.id}: no .cpuprofile written in ${dir}\n`);
        continue;
      }
      const a = analyzeProfile(path.join(dir, files.sort().at(-1)));
      profiles[cfg.id] = a;
      process.stdout.write(`\nCPU profile of ${cfg.id} (${a.busySamples} busy samples; ${path.relative(ROOT, a.file)})\n  by area:\n`);
      for (const c of a.categories.slice(0, 12)) process.stdout.write(`    ${c.pctOfBusy.toFixed(1).padStart(5)}%  ${c.name}\n`);
      process.stdout.write('  top self-time functions:\n');
      for (const f of a.topFunctions.slice(0, 15)) process.stdout.write(`    ${f.pctOfBusy.toFixed(1).padStart(5)}%  ${f.name}\n`);
    }
  }

  if (problems.length) {
    process.stdout.write(`\n!!! ${problems.length} PROBLEM(S): the numbers of the configurations marked INVALID are not trustworthy\n`);
    for (const p of problems) process.stdout.write(`  - ${p.config ? `[${p.config}] ` : ''}${p.message.split('\n')[0]}\n`);
  }

  const result = {
    generatedAt: new Date().toISOString(),
    options: { ...OPTS, out: path.relative(ROOT, OPTS.out) },
    environment: { ...env, loadavgAtEnd: os.loadavg(), staleSources: pre.staleSources },
    configurations: runnable.map((c) => ({
      id: c.id,
      label: c.label,
      kind: c.kind,
      filters: c.filters ?? null,
      outriggerConfig: c.kind === 'outrigger' ? outriggerYaml(c, upstream.url) : undefined,
    })),
    functionalChecks: checks,
    summary,
    goals,
    measurements,
    outriggerStats,
    logs: logSummary,
    profiles,
    problems,
  };
  mkdirSync(path.dirname(OPTS.out), { recursive: true });
  writeFileSync(OPTS.out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`\nresults: ${path.relative(process.cwd(), OPTS.out) || OPTS.out}\n`);
  return problems.length ? 1 : 0;
}

main().then(
  (/** @type {number} */ code) => {
    killAllNow();
    process.exit(code);
  },
  (/** @type {any} */ err) => {
    process.stderr.write(`\nbenchmark failed: ${err?.stack ?? err}\n`);
    killAllNow();
    process.exit(1);
  },
);
