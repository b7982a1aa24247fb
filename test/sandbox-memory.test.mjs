// Memory cap: a filter's linear memory cannot grow past limits.memory_mb, so a memory bomb is
// contained by the trap path and the proxy's RSS stays within the cap plus a margin; an instance
// grown past 3/4 of its cap is replaced once idle; a module that starts over its cap is rejected.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { FIXTURES, startProxy, tempDir } from './helpers/proxy.mjs';
import { startUpstream } from './helpers/upstream.mjs';
import { until } from './helpers/wait.mjs';

const CAP_MB = 16;
const MiB = 1024 * 1024;
/** RSS the rest of the process may add while serving a few requests (allocator noise, JIT, buffers). */
const MARGIN_MB = 48;
// cpu_ms is raised so that the allocator failing at the cap, not the deadline, is what stops the bomb
// (growing linear memory is slow on a loaded machine: 15 one-MiB grows took 200 ms here).

function rss() {
  globalThis.gc?.();
  return process.memoryUsage().rss;
}

/** VmRSS and VmHWM (the peak since resetPeak) of this process, in bytes. */
function vm() {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Starts a new VmHWM from the current RSS (Linux clear_refs 5); false where that is not possible. */
function resetPeak() {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

async function get(url) {
  const res = await request(url);
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body };
}

async function filter(proxy, name) {
  /** @type {any} */
  const status = await (await request(`${proxy.admin}/filters`)).body.json();
  return status.filters.find((f) => f.name === name);
}

describe('a memory bomb under limits.memory_mb', () => {
  let upstream;
  let proxy;
  before(async () => {
    upstream = await startUpstream();
    proxy = await startProxy(`upstream: ${upstream.url}
filters_dir: ${FIXTURES}
filters:
  - name: bomb
    file: bomb.wasm
    on_error: fail_closed
    limits: { memory_mb: ${CAP_MB}, cpu_ms: 10000 }
`);
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('is capped: the request gets the policy, RSS stays within the cap plus a margin', { timeout: 30_000 }, async () => {
    assert.equal((await get(`${proxy.url}/warm`)).status, 200);
    const before = rss();
    const peakTracked = resetPeak();
    const res = await get(`${proxy.url}/bomb`);
    const peak = process.memoryUsage().rss;
    assert.equal(res.status, 503, 'fail_closed once the allocator fails at the cap');
    assert.equal(res.headers['x-outrigger-filter'], 'bomb');
    assert.ok(peak - before < (CAP_MB + MARGIN_MB) * MiB, `RSS grew by ${((peak - before) / MiB).toFixed(1)} MiB`);
    const line = proxy.logs.findLast((l) => l.filter === 'bomb' && /trap|unreachable|abort/i.test(l.msg ?? ''));
    assert.ok(line, 'the fault is logged');
    // A fresh instance serves the next request, with its memory back at its start size.
    const next = await until(async () => {
      const r = await get(`${proxy.url}/after`);
      return r.status === 200 && r;
    }, 'a 200 after the bomb');
    assert.equal(next.headers['x-bomb-seen'], '1', 'a fresh instance');
    const f = await filter(proxy, 'bomb');
    assert.ok(f.memory_bytes <= CAP_MB * MiB, `memory_bytes ${f.memory_bytes}`);
    assert.ok(f.memory_bytes < CAP_MB * MiB * 0.5, 'the fresh instance is small again');
    // V8 frees a dropped instance's wasm memory only at a major GC, which dropping it never starts:
    // the proxy runs one itself (host/abi/wasm-memory-reclaim.ts), so RSS comes down without a gc here.
    const reclaimed = await until(() => proxy.logs.findLast((l) => l.code === 'OUTRIGGER_WASM_MEMORY_RECLAIMED'), 'the reclaiming gc', 15_000);
    assert.ok(reclaimed.releasedBytes >= 0.75 * CAP_MB * MiB, `released ${reclaimed.releasedBytes} bytes`);
    // The peak from VmHWM: on a loaded machine the reclaim can run before this test reads RSS at all.
    if (peakTracked) {
      const m = vm();
      assert.ok(m.hwm - m.rss > (CAP_MB / 2) * MiB, `RSS back down from its peak without a gc of ours: ${((m.hwm - m.rss) / MiB).toFixed(1)} MiB`);
    }
    const settled = rss();
    assert.ok(settled - before < (CAP_MB + MARGIN_MB) * MiB, `RSS after replacement ${((settled - before) / MiB).toFixed(1)} MiB over before`);
  });

  it('replaces an instance grown past 3/4 of its cap once it is idle', { timeout: 30_000 }, async () => {
    // Each /leak keeps 4 MiB: the third takes the instance past 12 MiB of 16.
    for (let i = 0; i < 3; i++) assert.equal((await get(`${proxy.url}/leak`)).status, 200);
    const line = await until(() => proxy.logs.findLast((l) => l.code === 'OUTRIGGER_FILTER_RECYCLED' && l.filter === 'bomb'), 'the replacement');
    assert.ok(line.memoryBytes > 0.75 * CAP_MB * MiB, `replaced at ${line.memoryBytes} bytes`);
    const f = await filter(proxy, 'bomb');
    assert.ok(f.memory_bytes < 0.5 * CAP_MB * MiB, `memory back down: ${f.memory_bytes}`);
    const res = await get(`${proxy.url}/after-leak`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-bomb-seen'], '1', 'served by the fresh instance');
  });
});

describe('a module whose initial memory is over limits.memory_mb', () => {
  it('is rejected at load with a message naming both sizes', { timeout: 30_000 }, async () => {
    const dir = tempDir();
    // The smallest module with a memory: magic, version, memory section { min 32 pages (2 MiB) }.
    writeFileSync(path.join(dir, 'big.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0, 32]));
    const upstream = await startUpstream();
    try {
      await assert.rejects(
        startProxy(
          `upstream: ${upstream.url}
filters_dir: ${dir}
filters:
  - name: big
    file: big.wasm
    limits: { memory_mb: 1 }
`,
          { dir },
        ),
        (/** @type {any} */ err) => {
          assert.match(err.message, /OUTRIGGER_WASM_MEMORY_OVER_CAP: big: .*big\.wasm starts with 2\.0 MiB of linear memory, over its cap of 1 MiB/);
          return true;
        },
      );
    } finally {
      await upstream.close();
    }
  });
});
