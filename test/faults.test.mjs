// Filters that misbehave: traps under both failure policies, aborts, a hostile guest passing bad
// pointers. The proxy keeps serving and says which filter failed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { FIXTURES, startProxy, withProxy } from './helpers/proxy.mjs';
import { startUpstream } from './helpers/upstream.mjs';

describe('a trapping filter', () => {
  let upstream;
  let closed;
  let open;

  before(async () => {
    upstream = await startUpstream();
    // A 1 ms breaker window: every trap here is a lone fault, replaced at once (these tests are
    // about one trap; backoff and the breaker are sandbox-recovery.test.mjs's).
    const filters = (policy) => `
upstream: ${upstream.url}
filters_dir: ${FIXTURES}
breaker: { window_ms: 1 }
filters:
  - name: trapper
    file: trap.wasm
    on_error: ${policy}
  - name: marker
    file: append.wasm
    config: { value: m }
`;
    closed = await startProxy(filters('fail_closed'));
    open = await startProxy(filters('fail_open'));
  });
  after(async () => {
    await closed?.close();
    await open?.close();
    await upstream?.close();
  });

  it('fail_closed: answers 503 naming the filter, without calling the upstream', async () => {
    const before = upstream.seen.length;
    const res = await request(`${closed.url}/trap`);
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['x-outrigger-filter'], 'trapper');
    assert.equal(res.headers['x-outrigger-error'], 'OUTRIGGER_FILTER_FAILED');
    assert.match(await res.body.text(), /filter "trapper" failed/);
    assert.equal(upstream.seen.length, before);
    const line = closed.logs.find((l) => l.code === 'OUTRIGGER_FILTER_TRAP' && l.filter === 'trapper');
    assert.ok(line, 'the trap is logged with the filter name');
    assert.match(line.msg, /unreachable/);
  });

  it('fail_closed: the next request runs on a fresh instance', async () => {
    const warm = await request(`${closed.url}/ok`);
    await warm.body.text();
    assert.equal(warm.statusCode, 200);
    const seen = Number(warm.headers['x-trap-seen']);
    await (await request(`${closed.url}/trap`)).body.text();
    const res = await request(`${closed.url}/ok`);
    await res.body.text();
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-trap-seen'], '1', `a fresh instance starts counting again (was ${seen})`);
    assert.equal(res.headers['x-chain'], 'm');
  });

  it('fail_closed: an AssemblyScript abort is reported with its message', async () => {
    const res = await request(`${closed.url}/abort`);
    await res.body.text();
    assert.equal(res.statusCode, 503);
    const line = closed.logs.findLast((l) => l.code === 'OUTRIGGER_FILTER_TRAP');
    assert.match(line.msg, /deliberate abort for the test/);
  });

  it('fail_open: skips the failed filter and still reaches the upstream', async () => {
    const before = upstream.seen.length;
    const res = await request(`${open.url}/trap`);
    await res.body.text();
    assert.equal(res.statusCode, 200);
    assert.equal(upstream.seen.length, before + 1);
    assert.equal(upstream.seen.at(-1).headers['x-chain'], 'm', 'the rest of the chain ran');
    assert.equal(res.headers['x-trap-seen'], undefined, 'the failed filter did not run its response phase');
  });

  it('fail_closed: requests arriving together with a trapping one, after it, are not failed by it', async () => {
    // Requests read in one event-loop turn run their chains together (chain-batch.ts): their contexts
    // exist on the instance before the trap and must move to the fresh one rather than fail. (A
    // request that had already run on the instance is in flight on it and fails, as in Envoy.)
    const agent = new Agent({ connections: 64 });
    const get = async (p) => {
      const res = await request(`${closed.url}${p}`, { dispatcher: agent });
      await res.body.text();
      return { p, status: res.statusCode, chain: res.headers['x-chain'] };
    };
    try {
      // Open the connections first, so the burst below is written in order: the trap first.
      await Promise.all(Array.from({ length: 40 }, (_, i) => get(`/warm/${i}`)));
      const before = upstream.seen.length;
      const results = await Promise.all(['/trap', ...Array.from({ length: 39 }, (_, i) => `/ok/${i}`)].map(get));
      assert.equal(results[0].status, 503);
      for (const r of results.slice(1)) assert.deepEqual(r, { p: r.p, status: 200, chain: 'm' }, `${r.p} failed along with the trapping request`);
      assert.equal(upstream.seen.length, before + 39);
    } finally {
      await agent.close();
    }
  });

  it('shows the trap count on the admin API', async () => {
    const res = await request(`${closed.admin}/filters`);
    const body = /** @type {any} */ (await res.body.json());
    const trapper = body.filters.find((f) => f.name === 'trapper');
    assert.ok(trapper.traps >= 2);
  });
});

describe('a guest passing bad pointers', () => {
  const env = withProxy(
    (upstream) => `
upstream: ${upstream.url}
filters:
  - name: hostile
    file: ${FIXTURES}/bad_pointers.wasm
`,
  );

  it('gets the ABI error codes, never crashes the host', async () => {
    for (let round = 0; round < 3; round++) {
      const res = await request(`${env.proxy.url}/x`);
      assert.equal(res.statusCode, 200);
      const codes = Object.fromEntries(
        (await res.body.text())
          .trim()
          .split('\n')
          .map((l) => l.split('=')),
      );
      const InvalidMemoryAccess = '6';
      const BadArgument = '2';
      assert.deepEqual(codes, {
        log_ptr: InvalidMemoryAccess,
        log_len: InvalidMemoryAccess,
        log_level: BadArgument,
        get_value_key: InvalidMemoryAccess,
        get_value_out: InvalidMemoryAccess,
        get_value_map: BadArgument,
        add_value: InvalidMemoryAccess,
        replace_value: InvalidMemoryAccess,
        remove_value: InvalidMemoryAccess,
        get_pairs: InvalidMemoryAccess,
        set_pairs_ptr: InvalidMemoryAccess,
        set_pairs_garbage: BadArgument,
        get_property: InvalidMemoryAccess,
        get_buffer_out: InvalidMemoryAccess,
        get_buffer_type: BadArgument,
        local_response: InvalidMemoryAccess,
        time: InvalidMemoryAccess,
        continue_type: BadArgument,
        effective_ctx: BadArgument,
        fd_write: '21', // WASI EFAULT
        random_get: '21',
      });
    }
    assert.equal(env.upstream.seen.length, 0);
    const traps = env.proxy.logs.filter((l) => l.code === 'OUTRIGGER_FILTER_TRAP');
    assert.equal(traps.length, 0);
  });
});

describe('metrics', () => {
  const env = withProxy(
    (upstream) => `
upstream: ${upstream.url}
filters:
  - name: trapper
    file: ${FIXTURES}/trap.wasm
`,
  );

  it('exposes request, fault and per-filter figures in Prometheus text format', async () => {
    await (await request(`${env.proxy.url}/ok`)).body.text();
    await (await request(`${env.proxy.url}/trap`)).body.text();
    const res = await request(`${env.proxy.admin}/metrics`);
    assert.match(/** @type {string} */ (res.headers['content-type']), /^text\/plain/);
    const text = await res.body.text();
    assert.match(text, /^outrigger_requests_total 2$/m);
    assert.match(text, /^outrigger_filter_faults_total 1$/m);
    assert.match(text, /^outrigger_local_replies_total 1$/m);
    assert.match(text, /^outrigger_filter_traps_total\{filter="trapper"\} 1$/m);
    assert.match(text, /^outrigger_filter_info\{filter="trapper",sha256="[0-9a-f]{64}",abi="0\.2\.1",generation="1",state="active"\} 1$/m);
    assert.match(text, /^# TYPE outrigger_generation gauge$/m);
  });
});

describe('filter-defined metrics and shared data', () => {
  const env = withProxy(
    (upstream) => `
upstream: ${upstream.url}
filters:
  - name: stats-a
    file: ${FIXTURES}/stats.wasm
    vm_id: shared
  - name: stats-b
    file: ${FIXTURES}/stats.wasm
    vm_id: shared
`,
  );

  it('keeps counters per filter, shares data by vm_id, and exports both', async () => {
    let last;
    for (let i = 0; i < 3; i++) {
      last = await request(`${env.proxy.url}/x`);
      await last.body.text();
    }
    // Each filter has its own counter; both bump the same shared value (2 per request). The
    // response phase runs in reverse, so stats-b's headers come first.
    assert.deepEqual(last.headers['x-counter'], ['3', '3']);
    assert.deepEqual(last.headers['x-shared-hits'], ['6', '5']);
    assert.deepEqual(last.headers['x-negative-counter-delta'], ['2', '2'], 'a counter cannot go down: BadArgument');
    assert.deepEqual(last.headers['x-get-histogram'], ['2', '2'], 'histograms cannot be read back: BadArgument');
    const text = await (await request(`${env.proxy.admin}/metrics`)).body.text();
    assert.match(text, /^outrigger_filter_counter_total\{filter="stats-a",name="requests"\} 3$/m);
    assert.match(text, /^outrigger_filter_counter_total\{filter="stats-b",name="requests"\} 3$/m);
    assert.match(text, /^outrigger_filter_gauge\{filter="stats-a",name="last_path_length"\} 7$/m);
    assert.match(text, /^outrigger_filter_histogram_count\{filter="stats-a",name="header_count"\} 3$/m);
  });
});

describe('a filter that produces an unusable request or response', () => {
  const env = withProxy(
    (upstream) => `
upstream: ${upstream.url}
filters:
  - name: mangle
    file: ${FIXTURES}/mangle.wasm
`,
  );

  for (const p of ['/bad-method', '/bad-path']) {
    it(`answers 502 naming the filter for ${p}, and keeps serving`, async () => {
      const res = await request(`${env.proxy.url}${p}`);
      assert.equal(res.statusCode, 502);
      assert.equal(res.headers['x-outrigger-error'], 'OUTRIGGER_INVALID_UPSTREAM_REQUEST');
      assert.match(await res.body.text(), /the filters produced a request that cannot be sent upstream \(OUTRIGGER_INVALID_UPSTREAM_REQUEST\)/);
      const ok = await request(`${env.proxy.url}/fine`);
      await ok.body.text();
      assert.equal(ok.statusCode, 200);
    });
  }

  it('ignores an invalid :status from a filter and keeps the upstream status', async () => {
    const res = await request(`${env.proxy.url}/bad-status`);
    await res.body.text();
    assert.equal(res.statusCode, 200);
  });
});
