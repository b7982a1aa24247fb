// /metrics from prom-client: the exposition parses (every sample under a HELP and TYPE), the process
// and Node.js defaults are there, the families the hand-written exposition had keep their names, and
// per-filter series (callback latency histogram, faults by kind, state, memory) follow real requests
// through real filters.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { CallbackTimings } from '../dist/host/chain/callback-timings.js';
import { parseConfig } from '../dist/host/config/load-config.js';
import { FIXTURES, withProxy } from './helpers/proxy.mjs';
import { parseExposition, sampleValue } from './helpers/prometheus.mjs';

const T = { timeout: 30_000 };
const HIST = 'outrigger_filter_callback_duration_seconds';

async function scrape(admin) {
  const res = await request(`${admin}/metrics`);
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.body.text());
}

async function get(url) {
  const res = await request(url);
  await res.body.text();
  return res.statusCode;
}

/** Writes raw bytes, returns what came back before the close. */
function raw(url, bytes) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => s.end(bytes));
    let out = '';
    s.on('data', (d) => {
      out += d;
    });
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

describe('/metrics', () => {
  // Every callback timed, so the histogram's counts are exact (the default samples one in 16).
  const env = withProxy(
    (upstream) => `
upstream: ${upstream.url}
callback_timing_sample: 1
filters_dir: ${FIXTURES}
filters:
  - name: marker
    file: append.wasm
    config: { value: m }
  - name: stats
    file: stats.wasm
  - name: trapper
    file: trap.wasm
    on_error: fail_open
`,
  );

  it('declares every family with HELP and TYPE, with real histogram and default collector types', T, async () => {
    assert.equal(await get(`${env.proxy.url}/warm`), 200);
    const fam = await scrape(env.proxy.admin);
    for (const f of fam.values()) {
      assert.notEqual(f.type, null, `${f.name} has a TYPE`);
      assert.ok(f.help.length > 0, `${f.name} has a HELP text`);
    }
    const types = {
      // prom-client's default collectors: process and Node.js, the event loop lag among them.
      process_cpu_user_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
      nodejs_eventloop_lag_seconds: 'gauge',
      nodejs_eventloop_lag_p99_seconds: 'gauge',
      nodejs_heap_size_used_bytes: 'gauge',
      nodejs_gc_duration_seconds: 'histogram',
      // Every family the hand-written exposition had, same names.
      outrigger_requests_total: 'counter',
      outrigger_upstream_errors_total: 'counter',
      outrigger_local_replies_total: 'counter',
      outrigger_filter_faults_total: 'counter',
      outrigger_in_flight_requests: 'gauge',
      outrigger_generation: 'gauge',
      outrigger_live_generations: 'gauge',
      outrigger_filter_traps_total: 'counter',
      outrigger_filter_memory_bytes: 'gauge',
      outrigger_filter_info: 'gauge',
      outrigger_filter_counter_total: 'counter',
      outrigger_filter_gauge: 'gauge',
      outrigger_filter_histogram_sum: 'counter',
      outrigger_filter_histogram_count: 'counter',
      // New.
      [HIST]: 'histogram',
      outrigger_filter_instance_faults_total: 'counter',
      outrigger_filter_deadline_hits_total: 'counter',
      outrigger_filter_state: 'gauge',
      outrigger_listener_rejections_total: 'counter',
    };
    for (const [name, type] of Object.entries(types)) assert.equal(fam.get(name)?.type, type, `${name} is a ${type}`);
    assert.ok(sampleValue(fam, 'process_resident_memory_bytes', 'process_resident_memory_bytes') > 0);
    assert.ok(sampleValue(fam, 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_seconds') >= 0);
  });

  it('counts each callback of each filter in a cumulative latency histogram', T, async () => {
    const before = await scrape(env.proxy.admin);
    const count = (fam, filter, callback) => sampleValue(fam, HIST, `${HIST}_count`, { filter, callback }) ?? 0;
    const n = 20;
    for (let i = 0; i < n; i++) assert.equal(await get(`${env.proxy.url}/ok/${i}`), 200);
    const fam = await scrape(env.proxy.admin);
    for (const filter of ['marker', 'stats', 'trapper']) {
      for (const cb of ['context_create', 'request_headers', 'response_headers', 'log'])
        assert.ok(count(fam, filter, cb) - count(before, filter, cb) >= n, `${filter} ${cb}: ${n} more callbacks counted`);
      const buckets = fam.get(HIST).samples.filter((s) => s.name === `${HIST}_bucket` && s.labels.filter === filter && s.labels.callback === 'request_headers');
      assert.ok(buckets.length > 5, 'several buckets');
      for (let i = 1; i < buckets.length; i++) {
        assert.ok(Number(buckets[i].labels.le) > Number(buckets[i - 1].labels.le) || buckets[i].labels.le === '+Inf', 'le ascending');
        assert.ok(buckets[i].value >= buckets[i - 1].value, 'buckets are cumulative');
      }
      assert.equal(buckets.at(-1).labels.le, '+Inf');
      assert.equal(buckets.at(-1).value, count(fam, filter, 'request_headers'), '+Inf bucket = count');
      const sum = sampleValue(fam, HIST, `${HIST}_sum`, { filter, callback: 'request_headers' });
      // Generous bounds: a callback is microseconds, but the machine is shared and noisy.
      assert.ok(sum > 0 && sum < count(fam, filter, 'request_headers'), `sum ${sum}s is positive and under 1 s a callback`);
    }
  });

  it('a trap shows as a fault of kind trap, the filter state, and its memory', T, async () => {
    const v = (fam, family, labels) => sampleValue(fam, family, family, labels);
    const before = await scrape(env.proxy.admin);
    assert.equal(await get(`${env.proxy.url}/trap`), 200, 'fail_open: the request goes on without the filter');
    const fam = await scrape(env.proxy.admin);
    const kind = (f, k) => v(f, 'outrigger_filter_instance_faults_total', { filter: 'trapper', kind: k });
    assert.equal(kind(fam, 'trap'), kind(before, 'trap') + 1);
    for (const k of ['deadline', 'memory', 'exit']) assert.equal(kind(fam, k), kind(before, k), `no ${k} fault`);
    assert.equal(v(fam, 'outrigger_filter_instance_faults_total', { filter: 'marker', kind: 'trap' }), 0);
    assert.equal(v(fam, 'outrigger_filter_traps_total', { filter: 'trapper' }), v(before, 'outrigger_filter_traps_total', { filter: 'trapper' }) + 1);
    assert.equal(v(fam, 'outrigger_filter_deadline_hits_total', { filter: 'trapper' }), 0);
    for (const filter of ['marker', 'stats', 'trapper']) {
      const states = fam.get('outrigger_filter_state').samples.filter((s) => s.labels.filter === filter);
      assert.deepEqual(states.map((s) => s.labels.state).sort(), ['active', 'degraded', 'missing', 'open', 'rejected']);
      assert.equal(states.filter((s) => s.value === 1).length, 1, `${filter} is in exactly one state`);
      assert.ok(v(fam, 'outrigger_filter_memory_bytes', { filter }) >= 65536, `${filter}'s memory is at least a page`);
    }
    assert.equal(v(fam, 'outrigger_filter_state', { filter: 'marker', state: 'active' }), 1);
    // Filter-defined metrics (proxy_define_metric) still appear.
    assert.ok(v(fam, 'outrigger_filter_counter_total', { filter: 'stats', name: 'requests' }) >= 1);
  });

  it('counts requests the listener rejects, by reason', T, async () => {
    const reason = 'HPE_INVALID_METHOD';
    const n = (fam) => sampleValue(fam, 'outrigger_listener_rejections_total', 'outrigger_listener_rejections_total', { reason }) ?? 0;
    const before = n(await scrape(env.proxy.admin));
    const answer = await raw(env.proxy.url, 'G@T / HTTP/1.1\r\nhost: a\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.equal(n(await scrape(env.proxy.admin)), before + 1);
  });
});

describe('/metrics with callback_timing_sample: 0', () => {
  const env = withProxy(
    (upstream) => `
upstream: ${upstream.url}
callback_timing_sample: 0
filters:
  - name: marker
    file: ${FIXTURES}/append.wasm
    config: { value: m }
`,
  );

  it('times no callback, and keeps every other family', T, async () => {
    for (let i = 0; i < 5; i++) assert.equal(await get(`${env.proxy.url}/x`), 200);
    const fam = await scrape(env.proxy.admin);
    assert.equal(fam.get(HIST)?.type, 'histogram');
    const counts = fam.get(HIST).samples.filter((s) => s.name === `${HIST}_count`);
    assert.ok(counts.length > 0, 'the filter has its series');
    assert.deepEqual(
      counts.filter((s) => s.value !== 0),
      [],
      'no callback timed',
    );
    assert.equal(sampleValue(fam, 'outrigger_requests_total', 'outrigger_requests_total'), 5);
  });
});

describe('/metrics with callback_timing_sample: 4', () => {
  const env = withProxy(
    (upstream) => `
upstream: ${upstream.url}
callback_timing_sample: 4
filters:
  - name: marker
    file: ${FIXTURES}/append.wasm
    config: { value: m }
`,
  );

  it('still records every callback kind, each timed one counting for 4', T, async () => {
    const n = 200;
    for (let i = 0; i < n; i++) assert.equal(await get(`${env.proxy.url}/s/${i}`), 200);
    const fam = await scrape(env.proxy.admin);
    for (const callback of ['context_create', 'request_headers', 'response_headers', 'log']) {
      const count = sampleValue(fam, HIST, `${HIST}_count`, { filter: 'marker', callback }) ?? 0;
      // 4 x Binomial(200, 1/4): mean 200, sd ~24.5. A pick of every 4th callback of the process would
      // time one of the four kinds per request only (0 or 800 here).
      assert.equal(count % 4, 0, `${callback}: a multiple of the sample rate`);
      assert.ok(count >= 60 && count <= 340, `${callback}: ${count} estimates the ${n} callbacks made`);
      const sum = sampleValue(fam, HIST, `${HIST}_sum`, { filter: 'marker', callback });
      assert.ok(sum > 0 && sum < count, `${callback}: sum ${sum}s is positive and under 1 s a callback`);
    }
  });
});

describe('CallbackTimings sampling', () => {
  /** Runs `calls` callbacks cycling over the kinds 0..kinds-1, each taking exactly 1 ms on a fake clock. */
  function drive(sample, calls, kinds) {
    const timings = new CallbackTimings(sample);
    const [t] = timings.forList(/** @type {any} */ ([{ name: 'f' }]));
    const real = globalThis.performance;
    let now = 0;
    globalThis.performance = /** @type {any} */ ({ now: () => now });
    try {
      for (let i = 0; i < calls; i++) {
        const start = timings.begin();
        now += 1;
        if (start >= 0) timings.end(t, i % kinds, start);
      }
    } finally {
      globalThis.performance = real;
    }
    const NB = t.counts.length / t.sums.length;
    return [...Array(kinds).keys()].map((k) => ({ count: t.counts.slice(k * NB, (k + 1) * NB).reduce((a, b) => a + b, 0), sum: t.sums[k] }));
  }

  it('is unbiased per callback kind in a fixed callback order, sums scaled as the counts', T, () => {
    // Four kinds in a fixed cycle and one in four sampled: the old periodic pick timed kind 3 only.
    for (const { count, sum } of drive(4, 40_000, 4)) {
      assert.ok(Math.abs(count - 10_000) < 1_000, `count ${count} estimates the 10,000 callbacks of the kind`);
      assert.ok(Math.abs(sum - count * 0.001) < 1e-6, `sum ${sum} s is count x 1 ms: the same weight`);
    }
  });

  it('with 1 counts every callback exactly, with 0 none', T, () => {
    assert.deepEqual(
      drive(1, 1_000, 2).map((k) => k.count),
      [500, 500],
    );
    assert.deepEqual(
      drive(0, 1_000, 2).map((k) => k.count),
      [0, 0],
    );
  });
});

describe('callback_timing_sample in the config', () => {
  it('takes a whole number, and names the key otherwise', T, () => {
    assert.equal(parseConfig('upstream: http://127.0.0.1:1\ncallback_timing_sample: 8\n', 'a.yaml').callbackTimingSample, 8);
    assert.equal(parseConfig('upstream: http://127.0.0.1:1\n', 'a.yaml').callbackTimingSample, 16);
    assert.throws(
      () => parseConfig('upstream: http://127.0.0.1:1\ncallback_timing_sample: -1\n', 'a.yaml'),
      /a\.yaml:2.*callback_timing_sample.*whole number/s,
    );
    assert.throws(() => parseConfig('upstream: http://127.0.0.1:1\ncallback_timing_sample: "x"\n', 'a.yaml'), /callback_timing_sample/);
  });
});
