// HTTP/2 (h2c, prior knowledge) against HTTP/1.1 on the data path, with 0 and 3 filters (issue 13,
// "Measure"). One proxy per filter count, each in a child process (its CPU read with
// process.cpuUsage); in every round both protocols load the same proxy, in alternating order, for
// the same time: the paired ratio is h2 / h1 of the proxy's CPU per request (and of req/s).
//   HTTP/1.1: undici Pool, --connections keep-alive connections, one request at a time on each.
//   h2c:      one node:http2 session with --connections concurrent streams (a gRPC client's shape).
// The upstream is node:http (HTTP/1.1, 13-byte body) in this process, so only the downstream
// protocol differs.
//
//   npm run bench:h2 -- [--seconds 3] [--rounds 5] [--connections 50]
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import http2 from 'node:http2';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const API_KEY = 'bench-key';
const { values } = parseArgs({
  strict: false,
  options: { seconds: { type: 'string', default: '3' }, rounds: { type: 'string', default: '5' }, connections: { type: 'string', default: '50' } },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CONNECTIONS = Number(values.connections);

const THREE = `filters:
  - { name: request-id, file: request_id.wasm }
  - { name: add-header, file: add_header.wasm, config: { header: x-hello, value: world } }
  - { name: api-key-auth, file: api_key_auth.wasm, config: { header: x-api-key, keys: [${API_KEY}] } }
`;

if (process.argv[2] === '--child') {
  const { pino } = await import('pino');
  const { parseConfig } = await import('../dist/host/config/load-config.js');
  const { startOutrigger } = await import('../dist/host/server.js');
  const [, , , upstreamUrl, filters] = process.argv;
  const text = `listen: 127.0.0.1:0\nadmin: false\nupstream: ${upstreamUrl}\nlog_level: warn\nfilters_dir: ${path.join(ROOT, 'filters')}\n${filters === '3' ? THREE : 'filters: []\n'}`;
  const config = parseConfig(text, path.join(ROOT, 'bench', 'h2-bench.yaml'));
  const running = await startOutrigger(config, { logger: pino({ level: 'warn' }), watch: false });
  process.on('message', (m) => {
    if (m === 'cpu') process.send?.({ cpu: process.cpuUsage() });
  });
  process.send?.({ address: running.address });
} else {
  const body = Buffer.from('hello, world\n');
  const upstream = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    req.resume();
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  await new Promise((r) => upstream.listen(0, '127.0.0.1', () => r(undefined)));
  const upstreamUrl = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (upstream.address()).port}`;

  /** @param {string} filters */
  async function startChild(filters) {
    const child = fork(fileURLToPath(import.meta.url), ['--child', upstreamUrl, filters], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const address = await new Promise((resolve) => child.once('message', (m) => resolve(/** @type {any} */ (m).address)));
    const cpu = () =>
      new Promise((resolve) => {
        child.once('message', (m) => {
          const c = /** @type {any} */ (m).cpu;
          resolve(c.user + c.system);
        });
        child.send('cpu');
      });
    return { child, url: `http://${address}`, cpu };
  }

  const headers = { 'x-api-key': API_KEY };
  /** Loads `url` for SECONDS with CONNECTIONS concurrent requests; resolves the number completed. */
  async function loadH1(url) {
    const pool = new Pool(url, { connections: CONNECTIONS, pipelining: 1 });
    let n = 0;
    let errors = 0;
    const end = Date.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (Date.now() < end) {
          const r = await pool.request({ method: 'GET', path: '/bench', headers });
          await r.body.dump();
          if (r.statusCode === 200) n++;
          else errors++;
        }
      }),
    );
    await pool.close();
    return { n, errors };
  }
  async function loadH2(url) {
    const session = http2.connect(url);
    await new Promise((r) => session.once('connect', r));
    let n = 0;
    let errors = 0;
    const end = Date.now() + SECONDS * 1000;
    const one = () =>
      new Promise((resolve, reject) => {
        const req = session.request({ ':method': 'GET', ':path': '/bench', ...headers });
        let status = 0;
        req.on('response', (h) => {
          status = Number(h[':status']);
        });
        req.on('data', () => {});
        req.on('end', () => resolve(status));
        req.on('error', reject);
      });
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (Date.now() < end) {
          if ((await one()) === 200) n++;
          else errors++;
        }
      }),
    );
    session.close();
    return { n, errors };
  }

  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const results = {};
  for (const filters of ['0', '3']) {
    const p = await startChild(filters);
    // Warm-up: both protocols, so the JIT has seen both paths before the first measured round.
    await loadH1(p.url);
    await loadH2(p.url);
    const rows = { h1: { cpu: [], rps: [] }, h2: { cpu: [], rps: [] }, ratioCpu: [], ratioRps: [] };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 ? ['h2', 'h1'] : ['h1', 'h2'];
      const got = {};
      for (const proto of order) {
        const c0 = await p.cpu();
        const t0 = process.hrtime.bigint();
        const { n, errors } = proto === 'h1' ? await loadH1(p.url) : await loadH2(p.url);
        const secs = Number(process.hrtime.bigint() - t0) / 1e9;
        const cpu = (await p.cpu()) - c0;
        if (errors) console.error(`${proto}: ${errors} non-200 answers`);
        got[proto] = { cpu: cpu / n, rps: n / secs };
        rows[proto].cpu.push(cpu / n);
        rows[proto].rps.push(n / secs);
      }
      rows.ratioCpu.push(got.h2.cpu / got.h1.cpu);
      rows.ratioRps.push(got.h2.rps / got.h1.rps);
    }
    p.child.kill();
    results[filters] = {
      h1CpuUsPerReq: median(rows.h1.cpu),
      h2CpuUsPerReq: median(rows.h2.cpu),
      cpuRatioH2OverH1: median(rows.ratioCpu),
      h1Rps: median(rows.h1.rps),
      h2Rps: median(rows.h2.rps),
      rpsRatioH2OverH1: median(rows.ratioRps),
    };
  }
  upstream.close();
  console.log(`h2c vs HTTP/1.1, ${ROUNDS} paired rounds of ${SECONDS} s, ${CONNECTIONS} concurrent requests; medians`);
  console.log('filters | h1 CPU µs/req | h2 CPU µs/req | CPU h2/h1 | h1 req/s | h2 req/s | req/s h2/h1');
  for (const [f, r] of Object.entries(results))
    console.log(
      `${f.padStart(7)} | ${r.h1CpuUsPerReq.toFixed(1).padStart(13)} | ${r.h2CpuUsPerReq.toFixed(1).padStart(13)} | ${r.cpuRatioH2OverH1.toFixed(2).padStart(9)} | ${r.h1Rps.toFixed(0).padStart(8)} | ${r.h2Rps.toFixed(0).padStart(8)} | ${r.rpsRatioH2OverH1.toFixed(2).padStart(11)}`,
    );
  process.exit(0);
}
