// The SDK's metrics, shared data (compare-and-swap), timers and attribute wrappers, from a real
// compiled filter (test/fixtures/filters/sdk_wrappers.ts) behind a real proxy, and its timers on the
// harness's virtual clock. Each case's answers come back as x-* headers of a local reply.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it, test } from 'node:test';
import { request } from 'undici';
import { getFrom } from './helpers/local-address.mjs';
import { loadFilter, VirtualClock } from 'outrigger/testing';
import { FIXTURES, withProxy } from './helpers/proxy.mjs';

const T = { timeout: 30_000 };
const WasmResult = { Ok: '0', NotFound: '1', BadArgument: '2', SerializationFailure: '3', CasMismatch: '8' };

describe('SDK wrappers behind a real proxy', () => {
  const env = withProxy(
    (upstream) => `
upstream: ${upstream.url}
filters:
  - name: wrappers
    file: ${FIXTURES}/sdk_wrappers.wasm
`,
  );

  /** @param {string} p @param {object} [opts] */
  async function ask(p, opts = {}) {
    const res = await request(`${env.proxy.url}${p}`, opts);
    await res.body.text();
    assert.equal(res.statusCode, 200);
    return res.headers;
  }

  it('Counter, Gauge, Histogram and a tagged family: values on /metrics, errors as values', T, async () => {
    let h;
    for (let i = 0; i < 2; i++) h = await ask('/metrics-case');
    assert.equal(h['x-inc'], WasmResult.Ok);
    assert.equal(h['x-inc-by-3'], WasmResult.Ok);
    assert.equal(h['x-inc-zero'], WasmResult.BadArgument, 'a counter never goes down or stands still');
    assert.equal(h['x-counter'], '8', 'two requests of inc() + inc(3), read back with get()');
    assert.equal(h['x-gauge-set'], WasmResult.Ok);
    assert.equal(h['x-gauge-add'], WasmResult.Ok);
    assert.equal(h['x-gauge'], '42', 'set(50) then add(-8)');
    assert.equal(h['x-record'], WasmResult.Ok);
    assert.equal(h['x-by-method'], WasmResult.Ok);
    assert.equal(h['x-same-object'], 'true', 'a family hands out one metric per tag value');
    assert.equal(h['x-unnamed'], WasmResult.BadArgument, 'a metric needs a name');
    assert.equal(h['x-wrong-tags'], WasmResult.BadArgument, 'two values for a one-tag family');
    await ask('/metrics-case', { method: 'POST', body: '' });

    const text = await (await request(`${env.proxy.admin}/metrics`)).body.text();
    assert.match(text, /^outrigger_filter_counter_total\{filter="wrappers",name="sdk_requests"\} 12$/m);
    assert.match(text, /^outrigger_filter_gauge\{filter="wrappers",name="sdk_gauge"\} 42$/m);
    assert.match(text, /^outrigger_filter_histogram_count\{filter="wrappers",name="sdk_path_length"\} 3$/m);
    assert.match(text, /^outrigger_filter_histogram_sum\{filter="wrappers",name="sdk_path_length"\} 39$/m);
    assert.match(text, /^outrigger_filter_counter_total\{filter="wrappers",name="method\.GET\.sdk_requests_by"\} 2$/m);
    assert.match(text, /^outrigger_filter_counter_total\{filter="wrappers",name="method\.POST\.sdk_requests_by"\} 1$/m);
    assert.doesNotMatch(text, /name=""/, 'the refused metrics never reached the host');
  });

  it('SharedData.update counts without losing an increment, request after request', T, async () => {
    const before = Number((await ask('/shared/bump'))['x-value']);
    const h = await ask('/shared/bump');
    assert.equal(h['x-status'], WasmResult.Ok);
    assert.equal(Number(h['x-value']), before + 1);
    assert.equal(h['x-attempts'], '1', 'nobody wrote in between: one round');
  });

  it("update() retries after a CasMismatch and keeps the other writer's value", T, async () => {
    const h = await ask('/shared/race');
    assert.equal(h['x-status'], WasmResult.Ok);
    assert.equal(h['x-attempts'], '2', 'the first compare-and-swap lost to the interfering write');
    // The other writer stored 0 + 100; the retry read that and added one: nothing lost.
    assert.equal(h['x-stored'], '101');
  });

  it('update() gives up with CasMismatch after maxAttempts; a declining updater writes nothing', T, async () => {
    const lose = await ask('/shared/always-lose');
    assert.equal(lose['x-status'], WasmResult.CasMismatch);
    assert.equal(lose['x-attempts'], '3');
    const decline = await ask('/shared/decline');
    assert.equal(decline['x-status'], WasmResult.Ok);
    assert.equal(decline['x-value'], 'kept');
  });

  it('get() of a missing key, compareAndSwap with a fresh and a stale cas, an oversized value', T, async () => {
    const missing = await ask('/shared/missing');
    assert.equal(missing['x-status'], WasmResult.NotFound);
    assert.equal(missing['x-is-null'], 'true');
    const h = await ask('/shared/cas');
    assert.equal(h['x-first-cas-nonzero'], 'true');
    assert.equal(h['x-swap'], WasmResult.Ok);
    assert.equal(h['x-stale-swap'], WasmResult.CasMismatch);
    assert.equal(h['x-stored'], 'two');
    assert.equal(h['x-too-big'], WasmResult.BadArgument, "over the host's 1 MiB value cap");
  });

  it('attributes: the client IP without its port, per source address; missing and mistyped ones', T, async () => {
    const h = await ask('/attributes');
    assert.equal(h['x-source-ip'], '127.0.0.1');
    assert.equal(h['x-source-port-ok'], 'true');
    assert.equal(h['x-host-of'], '::1|10.1.2.3|::1|/tmp/s.sock');
    assert.equal(h['x-missing'], WasmResult.NotFound);
    assert.equal(h['x-int-of-string'], WasmResult.SerializationFailure);
    assert.equal(h['x-bool-of-string'], WasmResult.SerializationFailure);
    // undici ignores connect.localAddress: node:http binds the client socket to another loopback address.
    const other = await getFrom(`${env.proxy.url}/attributes`, '127.0.0.2');
    assert.equal(other.headers['x-source-ip'], '127.0.0.2');
  });
});

test('Timers: periodic and one-shot timers on one tick, the tick period their gcd', T, async () => {
  const clock = new VirtualClock(Date.UTC(2030, 0, 1));
  const f = await loadFilter(path.join(FIXTURES, 'sdk_wrappers.wasm'), { clock });
  try {
    const state = async () => (await f.request({ path: '/timers' })).localReply.headers;
    let s = await state();
    assert.equal(s['x-tick-period'], '20', 'gcd(40, 100)');
    assert.equal(s['x-live'], '2');
    assert.equal(s['x-periodic'], '0');
    await f.tick(39);
    assert.equal((await state())['x-periodic'], '0', 'not before its period');
    await f.tick(1);
    s = await state();
    assert.equal(s['x-periodic'], '1');
    assert.equal(s['x-one-shot'], '0');
    await f.tick(60);
    s = await state();
    assert.equal(s['x-periodic'], '2', 'at 80 ms');
    assert.equal(s['x-one-shot'], '1', 'at 100 ms');
    assert.equal(s['x-live'], '1', 'a one-shot timer is gone once it fired');
    assert.equal(s['x-tick-period'], '40', 'the tick follows the live timers');
    await f.tick(400);
    s = await state();
    assert.equal(s['x-periodic'], '12', 'every 40 ms up to 500 ms');
    assert.equal(s['x-one-shot'], '1');
  } finally {
    f.close();
  }
});
