// Guest input is fuzzed (issue 11, point 7): a real compiled module (fixtures/filters/fuzz_host.ts)
// makes random sequences of host calls with random arguments (pointers and lengths in and out of
// bounds, huge sizes, malformed pair maps, out-of-range enum values), seeded per request. The host
// must answer every call with a Status code (the guest traps on anything else, and a host exception
// reaches the guest as a trap: both show as a filter fault), never crash, and keep its memory flat.
// OUTRIGGER_FUZZ_CALLS=N runs N calls instead of the CI's 100k.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { FIXTURES, withProxy } from './helpers/proxy.mjs';

const TOTAL = Number(process.env.OUTRIGGER_FUZZ_CALLS) || 100_000;
const PER_REQUEST = 500;
const SEED = Number(process.env.OUTRIGGER_FUZZ_SEED) || 20261204;

describe('fuzzing host calls from a real guest', { timeout: 55_000 }, () => {
  const env = withProxy(
    (up) =>
      `upstream: ${up.url}\nlog_level: error\nfilters:\n  - name: fuzz\n    file: ${FIXTURES}/fuzz_host.wasm\n    on_error: fail_closed\n    limits: { cpu_ms: 10000 }\n`,
  );

  it(`${TOTAL} random host calls: only Status codes, no fault, the proxy serves on, memory flat`, async () => {
    // log_level error: the fault lines (code + policy) are error lines; the guest's own random
    // error/critical proxy_log lines are captured too and dropped after each request.
    const { url, logs, running } = env.proxy;
    const faults = [];
    let calls = 0;
    let requests = 0;
    const outcomes = new Map();
    const heap = [];
    const measure = () => {
      globalThis.gc?.();
      heap.push(process.memoryUsage().heapUsed);
    };
    const t0 = performance.now();
    while (calls < TOTAL) {
      const n = Math.min(PER_REQUEST, TOTAL - calls);
      const seed = (SEED + requests * 7919) >>> 0;
      let outcome;
      try {
        const res = await request(`${url}/fuzz`, { headers: { 'x-fuzz-seed': String(seed), 'x-fuzz-calls': String(n) } });
        await res.body.text();
        outcome = res.statusCode;
      } catch (err) {
        // close_stream is among the calls: a reset is a legitimate outcome.
        outcome = err.code ?? 'error';
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      for (const l of logs) if (l.code && l.policy) faults.push({ seed, calls: n, code: l.code, msg: l.msg });
      logs.length = 0;
      if (faults.length) break;
      calls += n;
      requests++;
      if (requests === 20) measure();
    }
    measure();
    const seconds = (performance.now() - t0) / 1000;
    assert.deepEqual(faults, [], 'no host exception and no non-Status result (seed and count reproduce it)');
    assert.ok(outcomes.get(200) > requests / 2, `most requests end with the guest's 200: ${JSON.stringify([...outcomes])}`);
    // Still serving: a plain request and the admin API.
    const ok = await request(`${url}/plain`);
    assert.equal(ok.statusCode, 200);
    await ok.body.text();
    const health = await request(`${env.proxy.admin}/healthz`);
    assert.equal(health.statusCode, 200);
    await health.body.text();
    assert.ok(running.manager.slots.length === 1);
    if (heap.length === 2) {
      const growth = heap[1] - heap[0];
      assert.ok(growth < 8 * 1024 * 1024, `heapUsed grew ${(growth / 1048576).toFixed(1)} MiB over ${requests - 20} requests`);
    }
    process.stdout.write(
      `# fuzz: ${calls} calls in ${requests} requests, ${seconds.toFixed(1)} s, outcomes ${JSON.stringify([...outcomes])}, heap ${heap.map((h) => (h / 1048576).toFixed(1)).join(' -> ')} MiB\n`,
    );
  });
});
