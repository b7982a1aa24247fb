// The rate-limit example (examples/rate-limit): a token bucket per client address in shared data,
// refilled on ticks. Real sockets through a real proxy (two client addresses on loopback, a hot
// swap, two instances on one bucket), and the exact refill arithmetic on the harness's virtual clock.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it, test } from 'node:test';
import { request } from 'undici';
import { loadFilter, VirtualClock } from 'outrigger/testing';
import { getFrom } from './helpers/local-address.mjs';
import { FILTERS, ROOT, startProxy, withProxy } from './helpers/proxy.mjs';
import { startUpstream } from './helpers/upstream.mjs';

const T = { timeout: 30_000 };
const WASM = path.join(FILTERS, 'rate_limit.wasm');

/** @param {string} url @param {string} [from] a local address; undici (127.0.0.1) when absent */
async function get(url, from) {
  if (from) return getFrom(url, from);
  const res = await request(url);
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

describe('rate-limit: a bucket per client address (no tick during the test)', () => {
  // A 60 s tick: nothing refills while these tests run, so the counts are exact.
  const env = withProxy(
    (upstream) => `
upstream: ${upstream.url}
filters:
  - name: rate-limit
    file: ${WASM}
    config: { capacity: 3, refill: 3, tick_ms: 60000, domain: exact }
`,
  );

  it('lets capacity requests through, then answers 429 with retry-after', T, async () => {
    const url = `${env.proxy.url}/limited`;
    const seenBefore = env.upstream.seen.length;
    for (const left of ['2', '1', '0']) {
      const r = await get(url);
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-ratelimit-limit'], '3');
      assert.equal(r.headers['x-ratelimit-remaining'], left);
    }
    const limited = await get(url);
    assert.equal(limited.status, 429);
    assert.equal(limited.body, 'rate limited\n');
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `retry-after ${limited.headers['retry-after']}`);
    assert.equal(limited.headers['x-ratelimit-remaining'], '0');
    assert.equal(env.upstream.seen.length - seenBefore, 3, 'the limited request never reached the upstream');
    // Still empty: only a tick refills.
    assert.equal((await get(url)).status, 429);
  });

  it('keeps another client address in its own bucket', T, async () => {
    const url = `${env.proxy.url}/other`;
    // 127.0.0.1 used its tokens in the test above.
    assert.equal((await get(url)).status, 429);
    const r = await get(url, '127.0.0.2');
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-ratelimit-remaining'], '2');
    assert.equal((await get(url, '127.0.0.3')).headers['x-ratelimit-remaining'], '2');
    assert.equal((await get(url, '127.0.0.2')).headers['x-ratelimit-remaining'], '1');
  });

  it('counts decisions in tagged counters on /metrics', T, async () => {
    const text = await (await request(`${env.proxy.admin}/metrics`)).body.text();
    assert.match(text, /^outrigger_filter_counter_total\{filter="rate-limit",name="decision\.allowed\.ratelimit_requests"\} 6$/m);
    assert.match(text, /^outrigger_filter_counter_total\{filter="rate-limit",name="decision\.limited\.ratelimit_requests"\} 3$/m);
  });

  it('keeps the buckets across a hot swap of the filter', T, async () => {
    const url = `${env.proxy.url}/swap`;
    assert.equal((await get(url)).status, 429);
    // Same buckets (same vm_id and domain), a new generation: a larger burst but no fresh tokens
    // for a client that emptied its bucket.
    writeFileSync(
      env.proxy.configFile,
      `listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nupstream: ${env.upstream.url}\nfilters:\n  - name: rate-limit\n    file: ${WASM}\n    config: { capacity: 5, refill: 5, tick_ms: 60000, domain: exact }\n`,
    );
    const reload = await request(`${env.proxy.admin}/reload`, { method: 'POST' });
    const body = await reload.body.text();
    assert.equal(reload.statusCode, 200, body);
    const r = await get(url);
    assert.equal(r.status, 429, 'the emptied bucket stayed empty');
    assert.equal(r.headers['x-ratelimit-limit'], '5', 'answered by the new generation');
    const fresh = await get(url, '127.0.0.4');
    assert.equal(fresh.headers['x-ratelimit-remaining'], '4');
  });
});

describe('rate-limit: two instances share one bucket (compare-and-swap on shared data)', () => {
  const env = withProxy(
    (upstream) => `
upstream: ${upstream.url}
filters:
  - name: limit-a
    file: ${WASM}
    vm_id: limits
    config: { capacity: 4, refill: 4, tick_ms: 60000, domain: shared }
  - name: limit-b
    file: ${WASM}
    vm_id: limits
    config: { capacity: 4, refill: 4, tick_ms: 60000, domain: shared }
`,
  );

  it('each request takes one token in each filter, from the same bucket', T, async () => {
    const url = `${env.proxy.url}/both`;
    const first = await get(url);
    assert.equal(first.status, 200);
    // The response phase runs in reverse: limit-b's headers come first.
    assert.deepEqual(first.headers['x-ratelimit-remaining'], ['2', '3']);
    assert.equal((await get(url)).status, 200);
    const third = await get(url);
    assert.equal(third.status, 429, 'four tokens, two per request');
  });
});

/**
 * Runs `fn` against a fresh upstream and proxy, closing both whatever happens (a proxy that fails
 * to start included).
 * @param {(upstream: any) => string} yamlFor
 * @param {object} options startProxy's
 * @param {(proxy: any) => Promise<void>} fn
 */
async function withRunning(yamlFor, options, fn) {
  const upstream = await startUpstream();
  try {
    const proxy = await startProxy(yamlFor(upstream), options);
    try {
      await fn(proxy);
    } finally {
      await proxy.close();
    }
  } finally {
    await upstream.close();
  }
}

test('rate-limit: an emptied bucket refills on ticks (real time, 300 ms ticks)', { timeout: 40_000 }, async () => {
  const yaml = (upstream) => `
upstream: ${upstream.url}
filters:
  - name: rate-limit
    file: ${WASM}
    config: { capacity: 2, refill: 1, tick_ms: 300, domain: ticking }
`;
  await withRunning(yaml, {}, async (proxy) => {
    const url = `${proxy.url}/tick`;
    // Twenty at once: however slow the machine, they arrive within a few ticks, and only capacity
    // plus a token per tick of them pass.
    const burst = await Promise.all(Array.from({ length: 20 }, () => get(url)));
    const limited = burst.filter((r) => r.status === 429);
    assert.ok(limited.length >= 1, 'none of 20 limited');
    assert.equal(limited[0].headers['retry-after'], '1', 'the next tick is under a second away');
    // The next ticks refill it; a generous bound for a loaded machine.
    const deadline = Date.now() + 20_000;
    let ok = null;
    while (ok === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      const r = await get(url);
      if (r.status === 200) ok = r;
    }
    assert.ok(ok, 'the bucket never refilled');
  });
});

test('rate-limit on a virtual clock: exact refill per tick, capped at capacity', T, async () => {
  const clock = new VirtualClock(Date.UTC(2030, 0, 1));
  const f = await loadFilter(WASM, { clock, config: { capacity: 2, refill: 1, tick_ms: 1000 } });
  try {
    const status = async () => {
      const r = await f.request({ path: '/' });
      return r.localReply ? `${r.localReply.status} retry-after=${r.localReply.headers['retry-after']}` : `${r.response.status}`;
    };
    assert.equal(await status(), '200');
    assert.equal(await status(), '200');
    assert.equal(await status(), '429 retry-after=1', 'empty before the first tick');
    assert.equal(await f.tick(999), 0);
    assert.equal(await status(), '429 retry-after=1', 'no refill between ticks');
    assert.equal(await f.tick(1), 1);
    assert.equal(await status(), '200', 'one token per tick');
    assert.equal(await status(), '429 retry-after=1');
    await f.tick(5000);
    assert.equal(await status(), '200');
    assert.equal(await status(), '200', 'five ticks refill at most capacity');
    assert.equal(await status(), '429 retry-after=1');
  } finally {
    f.close();
  }
});

test('rate-limit rejects a config it cannot use, saying what it expects', T, async () => {
  await assert.rejects(loadFilter(WASM, { config: { capacity: 0 } }), /capacity, refill and tick_ms must be whole numbers/);
  await assert.rejects(loadFilter(WASM, { config: 'not json' }), /must be a JSON object/);
});

test('outrigger test examples/rate-limit runs the example fixture file green', T, () => {
  const cli = spawnSync(process.execPath, [path.join(ROOT, 'bin/outrigger.js'), 'test', 'examples/rate-limit'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 25_000,
  });
  assert.equal(cli.status, 0, cli.stdout + cli.stderr);
  assert.match(cli.stdout, /^3 passed, 0 failed/m);
});

/** True when this machine has IPv6 loopback (some CI containers do not). */
async function hasIpv6Loopback() {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });
}

test('rate-limit keys an IPv6 client by its address without the port ([::1]:port -> ::1)', T, async (t) => {
  if (!(await hasIpv6Loopback())) {
    t.skip('no IPv6 loopback on this machine');
    return;
  }
  const yaml = (upstream) => `
upstream: ${upstream.url}
filters:
  - name: rate-limit
    file: ${WASM}
    config: { capacity: 2, refill: 2, tick_ms: 60000, domain: v6 }
`;
  // Quoted: unquoted, YAML would read [::1]:0 as a list.
  await withRunning(yaml, { listen: "'[::1]:0'" }, async (proxy) => {
    const url = `${proxy.url}/v6`;
    // A new connection (a new source port) per request: one bucket only if the port is not in the key.
    assert.equal((await get(url, '::1')).headers['x-ratelimit-remaining'], '1');
    assert.equal((await get(url, '::1')).headers['x-ratelimit-remaining'], '0');
    assert.equal((await get(url, '::1')).status, 429);
  });
});
