// CPU deadlines: an infinite loop in any callback is stopped within twice its budget
// (limits.cpu_ms / limits.start_ms), its request gets the filter's on_error policy, the stop is
// logged, a fresh instance takes over, and meanwhile other requests and /healthz keep answering.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { FIXTURES, startProxy, tempDir } from './helpers/proxy.mjs';
import { startUpstream } from './helpers/upstream.mjs';
import { until } from './helpers/wait.mjs';

const CPU_MS = 100;
/** Wall-clock bound for requests queued behind a stuck callback: generous, the machine is shared. */
const SLOW = 3000;

/** @param {string} url @param {{ method?: string, body?: string }} [options] */
async function send(url, { method = 'GET', body } = {}) {
  const t0 = performance.now();
  try {
    const res = await request(url, { method, body, headersTimeout: 10_000, bodyTimeout: 10_000 });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: text, ms: performance.now() - t0 };
  } catch (err) {
    return { status: 0, error: err, ms: performance.now() - t0 };
  }
}

/** Fires the stuck request together with requests to other paths and /healthz; returns all answers. */
async function withNeighbours(proxy, stuck) {
  const neighbours = [send(`${proxy.url}/ok/1`), send(`${proxy.url}/ok/2`, { method: 'POST', body: 'neighbour body' }), send(`${proxy.admin}/healthz`)];
  const [main, ...others] = await Promise.all([stuck(), ...neighbours]);
  return { main, others };
}

function assertNeighboursServed(others) {
  for (const r of others) {
    assert.equal(r.status, 200, `a neighbour got ${r.status} ${r.error ?? ''}`);
    assert.ok(r.ms < SLOW, `a neighbour waited ${r.ms.toFixed(0)} ms`);
  }
}

function deadlineLine(proxy, filter, callback) {
  return proxy.logs.findLast((l) => l.code === 'OUTRIGGER_FILTER_DEADLINE' && l.filter === filter && l.callback === callback);
}

// fail_open here: requests in flight on the stuck instance get the policy too (their contexts died
// with it), and fail_open lets them through, so every neighbour must answer 200. fail_closed is
// checked on its own below.
describe('an infinite loop in a data-path callback (fail_open)', () => {
  const kinds = [
    ['request_headers', 'proxy_on_request_headers'],
    ['request_body', 'proxy_on_request_body'],
    ['response_headers', 'proxy_on_response_headers'],
    ['response_body', 'proxy_on_response_body'],
    ['log', 'proxy_on_log'],
  ];
  let upstream;
  let proxy;

  before(async () => {
    upstream = await startUpstream();
    const filters = kinds
      .map(
        ([where]) => `  - name: spin-${where}
    file: spin.wasm
    on_error: fail_open
    limits: { cpu_ms: ${CPU_MS} }
    config: { where: ${where}, path: /spin-${where} }
`,
      )
      .join('');
    proxy = await startProxy(`upstream: ${upstream.url}\nfilters_dir: ${FIXTURES}\nfilters:\n${filters}`);
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  for (const [where, callback] of kinds) {
    it(`${callback}: stopped within twice cpu_ms, policy applied, neighbours served`, { timeout: 30_000 }, async () => {
      const filter = `spin-${where}`;
      const { main, others } = await withNeighbours(proxy, () => send(`${proxy.url}/spin-${where}`, { method: 'POST', body: 'stuck body' }));
      assertNeighboursServed(others);
      const line = await until(() => deadlineLine(proxy, filter, callback), `the deadline log line of ${filter}`);
      assert.equal(line.budgetMs, CPU_MS);
      assert.ok(line.elapsedMs < 2 * CPU_MS, `stopped after ${line.elapsedMs} ms`);
      assert.match(line.reqId, /./, 'the log names the request');
      assert.equal(main.status, 200, 'fail_open: the stopped filter is skipped');
      assert.ok(main.ms < SLOW, `the stuck request took ${main.ms.toFixed(0)} ms`);
      // A fresh instance serves the next request.
      await until(async () => (await send(`${proxy.url}/after-${where}`)).status === 200, 'a 200 after the stop');
      /** @type {any} */
      /** @type {any} */
      const status = await (await request(`${proxy.admin}/filters`)).body.json();
      const f = status.filters.find((x) => x.name === filter);
      assert.ok(f.traps >= 1, 'the stop is counted');
    });
  }
});

describe('an infinite loop with fail_closed', () => {
  let upstream;
  let proxy;
  before(async () => {
    upstream = await startUpstream();
    proxy = await startProxy(`upstream: ${upstream.url}
filters_dir: ${FIXTURES}
filters:
  - name: spinner
    file: spin.wasm
    on_error: fail_closed
    limits: { cpu_ms: ${CPU_MS} }
    config: { where: request_headers }
`);
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('answers 503 naming the filter, without calling the upstream; a fresh instance serves next', { timeout: 30_000 }, async () => {
    const seen = upstream.seen.length;
    const res = await send(`${proxy.url}/spin`);
    assert.equal(res.status, 503);
    assert.equal(res.headers['x-outrigger-filter'], 'spinner');
    assert.equal(upstream.seen.length, seen);
    const line = deadlineLine(proxy, 'spinner', 'proxy_on_request_headers');
    assert.match(line.msg, /proxy_on_request_headers ran \d+ ms, over its 100 ms CPU budget/);
    const next = await send(`${proxy.url}/ok`);
    assert.equal(next.status, 200);
    assert.equal(next.headers['x-spin-seen'], '1', 'a fresh instance');
    /** @type {any} */
    const status = await (await request(`${proxy.admin}/filters`)).body.json();
    assert.equal(status.filters[0].traps, 1, 'the stop is counted');
  });
});

describe('an infinite loop in proxy_on_tick', () => {
  let upstream;
  let proxy;
  before(async () => {
    upstream = await startUpstream();
    proxy = await startProxy(`upstream: ${upstream.url}
filters_dir: ${FIXTURES}
filters:
  - name: ticker
    file: spin.wasm
    on_error: fail_open
    limits: { cpu_ms: ${CPU_MS} }
    config: { where: tick }
`);
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('is stopped within twice cpu_ms while requests and /healthz keep answering', { timeout: 30_000 }, async () => {
    const line = await until(() => deadlineLine(proxy, 'ticker', 'proxy_on_tick'), 'the tick deadline');
    assert.equal(line.budgetMs, CPU_MS);
    assert.ok(line.elapsedMs < 2 * CPU_MS, `stopped after ${line.elapsedMs} ms`);
    // The fresh instance loops again at its first tick: requests keep being served regardless.
    for (let i = 0; i < 3; i++) {
      const { others } = await withNeighbours(proxy, () => send(`${proxy.url}/plain`));
      assertNeighboursServed(others);
    }
  });
});

describe('an infinite loop in start-up during a hot swap', () => {
  let upstream;
  let proxy;
  let file;
  const START_MS = 300;
  before(async () => {
    upstream = await startUpstream();
    const dir = tempDir();
    file = path.join(dir, 'hot.wasm');
    copyFileSync(path.join(FIXTURES, 'trap.wasm'), file);
    proxy = await startProxy(
      `upstream: ${upstream.url}
filters_dir: ${dir}
filters:
  - name: hot
    file: hot.wasm
    limits: { start_ms: ${START_MS} }
    config: { where: configure }
`,
      { dir },
    );
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('rejects the candidate within twice start_ms; the last good version keeps serving', { timeout: 30_000 }, async () => {
    /** @returns {Promise<any>} */
    const filters = async () => (await request(`${proxy.admin}/filters`)).body.json();
    const before = await filters();
    writeFileSync(`${file}.tmp`, readFileSync(path.join(FIXTURES, 'spin.wasm')));
    renameSync(`${file}.tmp`, file);
    const polls = [];
    const status = await until(
      async () => {
        const r = await send(`${proxy.url}/during-swap`);
        polls.push(r);
        const f = await filters();
        return f.filters[0].state === 'rejected' && f;
      },
      'the rejection',
      15_000,
    );
    assert.match(status.filters[0].last_error, /^OUTRIGGER_FILTER_DEADLINE/);
    const ran = Number(/ran (\d+) ms/.exec(status.filters[0].last_error)?.[1]);
    assert.ok(ran < 2 * START_MS, `start-up stopped after ${ran} ms`);
    assert.equal(status.filters[0].sha256, before.filters[0].sha256, 'still the old file serving');
    assertNeighboursServed(polls);
    const res = await send(`${proxy.url}/after`);
    assert.equal(res.status, 200);
    assert.ok(res.headers['x-trap-seen'], 'the old version answers');
  });
});
