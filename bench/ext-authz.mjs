// ext-authz benchmark: the ext-authz example (examples/ext-authz) under load against a loopback auth
// service, paired with the same load where the upstream does the same check itself (no filter).
//   ext-authz      client → Outrigger + ext-authz ─(proxy_http_call, cluster "auth")→ auth service
//                                                 └→ upstream (no check)
//   upstream-auth  client → Outrigger, no filters → upstream that checks authorization itself
// Every request carries a valid token (all are allowed). Each round measures both (A B, then B A in
// the next round), warm-up discarded; the report is the median over rounds of req/s, and of CPU µs per
// request of the proxy process (utime+stime from /proc/<pid>/stat) and of the auth service.
//
//   node bench/ext-authz.mjs [--rounds 10] [--duration 2] [--warmup 1] [--connections 50]
//   (needs npm run build; Linux: /proc)
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { request } from 'undici';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    duration: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '50' },
  },
});
const ROUNDS = Number(opts.rounds);
const DURATION = Number(opts.duration);
const WARMUP = Number(opts.warmup);
const CONNECTIONS = Number(opts.connections);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const children = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** utime+stime of a process in µs. */
function cpuUs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK;
}

/** Starts a child and resolves with its first JSON stdout line matching `ready`. */
function startChild(args, ready) {
  const child = spawn(process.execPath, ['--import', path.join(ROOT, 'bench/exit-with-parent.mjs'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (c) => {
      buf += c;
      for (let i; (i = buf.indexOf('\n')) >= 0; ) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const j = JSON.parse(line);
          const v = ready(j);
          if (v) resolve({ child, value: v });
        } catch {}
      }
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
}

const server = async (role) => {
  const { child, value } = await startChild([path.join(ROOT, 'bench/auth-upstream.mjs'), '--role', role], (j) => j.port);
  return { pid: child.pid, url: `http://127.0.0.1:${value}` };
};

const auth = await server('auth');
const plain = await server('plain');
const checked = await server('checked');
const dir = mkdtempSync(path.join(tmpdir(), 'outrigger-bench-authz-'));

async function proxy(name, yaml) {
  const file = path.join(dir, `${name}.yaml`);
  // log_level info: the address comes from the "outrigger ready" line; nothing logs per request.
  writeFileSync(file, `listen: 127.0.0.1:0\nadmin: false\nlog_level: info\n${yaml}`);
  const { child, value } = await startChild(
    [path.join(ROOT, 'bin/outrigger.js'), 'start', '--config', file, '--no-watch'],
    (j) => j.msg === 'outrigger ready' && j.listen,
  );
  return { name, pid: child.pid, url: `http://${value}` };
}

const configs = [
  await proxy(
    'ext-authz',
    `upstream: ${plain.url}
filters_dir: ${path.join(ROOT, 'filters')}
clusters:
  auth: ${auth.url}
filters:
  - name: ext-authz
    file: ext_authz.wasm
    config: { cluster: auth, path_prefix: /check, timeout_ms: 1000 }
`,
  ),
  await proxy('upstream-auth', `upstream: ${checked.url}\n`),
];

// Both answer 200 with a good token and 401 without one: the check really runs in each.
for (const c of configs) {
  const ok = await request(`${c.url}/x`, { headers: { authorization: 'Bearer good' } });
  const no = await request(`${c.url}/x`, { headers: { authorization: 'Bearer nope' } });
  const [okBody] = [await ok.body.text(), await no.body.text()];
  if (ok.statusCode !== 200 || okBody !== 'hello, world\n' || no.statusCode !== 401)
    throw new Error(`${c.name}: check failed (${ok.statusCode}, ${no.statusCode})`);
}

function load(url, seconds) {
  return new Promise((resolve, reject) => {
    autocannon({ url: `${url}/x`, connections: CONNECTIONS, duration: seconds, headers: { authorization: 'Bearer good' } }, (err, r) =>
      err ? reject(err) : resolve(r),
    );
  });
}

async function measure(c) {
  await load(c.url, WARMUP);
  const p0 = cpuUs(c.pid);
  const a0 = cpuUs(auth.pid);
  const r = await load(c.url, DURATION);
  const n = r.requests.total;
  const bad = r.non2xx + r.errors + r.timeouts;
  return { rps: r.requests.average, proxyUs: (cpuUs(c.pid) - p0) / n, authUs: (cpuUs(auth.pid) - a0) / n, p99: r.latency.p99, bad };
}

const results = Object.fromEntries(configs.map((c) => [c.name, []]));
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? configs : [...configs].reverse();
  for (const c of order) results[c.name].push(await measure(c));
  process.stderr.write(`round ${round + 1}/${ROUNDS}\n`);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const summary = {};
for (const [name, rs] of Object.entries(results))
  summary[name] = {
    rps: Math.round(median(rs.map((r) => r.rps))),
    proxyCpuUsPerReq: Number(median(rs.map((r) => r.proxyUs)).toFixed(1)),
    authCpuUsPerReq: Number(median(rs.map((r) => r.authUs)).toFixed(1)),
    p99Ms: median(rs.map((r) => r.p99)),
    badResponses: rs.reduce((a, r) => a + r.bad, 0),
  };
const a = summary['ext-authz'];
const b = summary['upstream-auth'];
// Paired per round, then the median of the ratios.
const pair = (f) => Number(median(results['ext-authz'].map((r, i) => f(r) / f(results['upstream-auth'][i]))).toFixed(3));
const report = {
  rounds: ROUNDS,
  durationS: DURATION,
  connections: CONNECTIONS,
  summary,
  ratios: { rps: pair((r) => r.rps), proxyCpuPerReq: pair((r) => r.proxyUs) },
};
console.log(JSON.stringify(report, null, 2));
console.log(
  `ext-authz: ${a.rps} req/s, proxy ${a.proxyCpuUsPerReq} µs CPU/req (auth service ${a.authCpuUsPerReq}); upstream-auth: ${b.rps} req/s, proxy ${b.proxyCpuUsPerReq} µs CPU/req; ratios (paired medians) req/s ${report.ratios.rps}x, proxy CPU/req ${report.ratios.proxyCpuPerReq}x`,
);
process.exit(a.badResponses + b.badResponses > 0 ? 1 : 0);
