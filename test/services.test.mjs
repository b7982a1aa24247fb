// Background services (`services:`): root-only VMs with no request contexts that tick and talk to
// filters through shared queues; listed, counted, hot-swapped and sandboxed like filters. A root-only
// plugin listed as a chain filter is refused at load with a pointer to services:.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { parseConfig } from '../dist/host/config/load-config.js';
import { FIXTURES, startProxy } from './helpers/proxy.mjs';
import { startUpstream } from './helpers/upstream.mjs';
import { until } from './helpers/wait.mjs';

async function get(proxy, headers = {}) {
  const res = await request(`${proxy.url}/`, { headers });
  await res.body.text();
  return { status: res.statusCode, headers: /** @type {Record<string, string>} */ (res.headers) };
}

async function json(url) {
  const res = await request(url);
  return { status: res.statusCode, body: /** @type {any} */ (await res.body.json()) };
}

/** A consumer filter registering "q", and a ticking service producing into it (same vm_id). */
function yaml(upstream, { service = '{ tick_ms: 40, tick_item: t, resolve: q }', breaker = '' } = {}) {
  return `upstream: ${upstream.url}
filters_dir: ${FIXTURES}
filters:
  - name: consumer
    file: queues.wasm
    vm_id: shared
    config: { register: q }
services:
  - name: ticker
    file: queues.wasm
    vm_id: shared
    config: ${service}
${breaker}`;
}

describe('a queue between a service and a filter', { timeout: 60_000 }, () => {
  let upstream;
  let proxy;
  before(async () => {
    upstream = await startUpstream();
    proxy = await startProxy(yaml(upstream));
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it("the service's ticks enqueue items the filter receives, with no request on the service", async () => {
    const r = await until(async () => {
      const g = await get(proxy);
      return g.headers['x-received']?.startsWith('t-1,t-2') ? g : null;
    }, 'items from the service');
    assert.equal(r.status, 200);
    // The service never got a stream context: its x-global-ticker header is absent.
    assert.equal(r.headers['x-global-ticker'], undefined);
    assert.equal(r.headers['x-global-consumer'] !== undefined, true);
  });

  it('is listed in /filters (kind service) and /services with its state, and counted in /metrics', async () => {
    const filters = await json(`${proxy.admin}/filters`);
    const ticker = filters.body.filters.find((f) => f.name === 'ticker');
    assert.equal(ticker.kind, 'service');
    assert.equal(ticker.state, 'active');
    assert.equal(filters.body.filters.find((f) => f.name === 'consumer').kind, 'filter');
    const services = await json(`${proxy.admin}/services`);
    assert.deepEqual(
      services.body.services.map((s) => [s.name, s.state]),
      [['ticker', 'active']],
    );
    const metrics = await (await request(`${proxy.admin}/metrics`)).body.text();
    assert.match(metrics, /outrigger_service_info\{service="ticker",state="active"\} 1/);
    assert.match(metrics, /outrigger_filter_traps_total\{filter="ticker"\} 0/);
    assert.equal((await json(`${proxy.admin}/readyz`)).status, 200);
  });
});

describe('a service hot swap', { timeout: 60_000 }, () => {
  let upstream;
  let proxy;
  before(async () => {
    upstream = await startUpstream();
    proxy = await startProxy(yaml(upstream));
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('a changed service config starts a new service; the old one stops; the queue carries on', async () => {
    await until(async () => (await get(proxy)).headers['x-received']?.includes('t-1'), 'the first service');
    const gen = (await json(`${proxy.admin}/filters`)).body.filters.find((f) => f.name === 'ticker').generation;
    writeFileSync(proxy.configFile, `listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\n${yaml(upstream, { service: '{ tick_ms: 40, tick_item: u, resolve: q }' })}`);
    await until(async () => (await get(proxy)).headers['x-received']?.includes('u-2'), 'items from the new service', 15_000);
    const ticker = (await json(`${proxy.admin}/filters`)).body.filters.find((f) => f.name === 'ticker');
    assert.ok(ticker.generation > gen, 'the service slot moved to a new generation');
    assert.equal(ticker.live_instances, 1);
    // The old service was ended at the swap: no t- item comes after the first u- item.
    await new Promise((r) => setTimeout(r, 200));
    const items = (await get(proxy)).headers['x-received'].split(',');
    const firstU = items.findIndex((i) => i.startsWith('u-'));
    assert.ok(
      items.slice(firstU).every((i) => i.startsWith('u-')),
      `old service still ticking: ${items.slice(firstU).join(',')}`,
    );
  });
});

describe('a faulting service', { timeout: 60_000 }, () => {
  let upstream;
  let proxy;
  before(async () => {
    upstream = await startUpstream();
    proxy = await startProxy(
      yaml(upstream, {
        service: '{ tick_ms: 30, tick_item: t, resolve: q, fail_on_tick: 2 }',
        breaker: '    breaker: { max_faults: 2, window_ms: 60000, backoff_ms: 300, max_backoff_ms: 300 }\n',
      }),
    );
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('is replaced after a fault, opens its breaker on repeated faults, retries on a timer, and the proxy keeps serving', async () => {
    // Fault 1 (tick 2): logged with the service's name and callback; a fresh instance at once.
    const fault = await until(() => proxy.logs.find((l) => l.filter === 'ticker' && l.callback === 'proxy_on_tick' && l.kind === 'trap'), 'the fault');
    assert.match(fault.msg, /service asked to fail on tick 2/);
    // Fault 2 on the fresh instance opens the breaker: not ready, state open.
    await until(async () => (await json(`${proxy.admin}/filters`)).body.filters.find((f) => f.name === 'ticker').state === 'open', 'breaker open');
    const ready = await json(`${proxy.admin}/readyz`);
    assert.equal(ready.status, 503);
    assert.ok(ready.body.problems.some((p) => p.startsWith('service ticker breaker open')));
    assert.equal((await get(proxy)).status, 200, 'requests are still served');
    // After backoff_ms a fresh instance is the trial; its first tick succeeds and closes the breaker.
    await until(() => proxy.logs.some((l) => l.code === 'OUTRIGGER_FILTER_BREAKER_CLOSED' && l.filter === 'ticker'), 'the breaker to close', 10_000);
    const ticker = (await json(`${proxy.admin}/filters`)).body.filters.find((f) => f.name === 'ticker');
    assert.ok(ticker.faults.trap >= 2);
  });
});

describe('services in the config', { timeout: 60_000 }, () => {
  it('a root-only plugin under filters: is refused at load, pointing to services:', async () => {
    const upstream = await startUpstream();
    try {
      await assert.rejects(
        startProxy(`upstream: ${upstream.url}\nfilters_dir: ${FIXTURES}\nfilters:\n  - name: bg\n    file: root_only.wasm\n`),
        (/** @type {any} */ err) => {
          assert.match(String(err.message), /bg: the module cannot make an HTTP context/);
          assert.match(String(err.message), /OUTRIGGER_FILTER_ROOT_ONLY/);
          return true;
        },
      );
      // The same module under services: runs.
      const proxy = await startProxy(`upstream: ${upstream.url}\nfilters_dir: ${FIXTURES}\nservices:\n  - name: bg\n    file: root_only.wasm\n`);
      try {
        assert.equal((await json(`${proxy.admin}/services`)).body.services[0].state, 'active');
        assert.equal((await get(proxy)).status, 200);
      } finally {
        await proxy.close();
      }
    } finally {
      await upstream.close();
    }
  });

  it('is validated like filters: on_error, unknown keys, duplicate names across both lists', () => {
    const text = `upstream: http://127.0.0.1:1
filters_dir: ${FIXTURES}
filters:
  - name: a
    file: queues.wasm
services:
  - name: a
    file: queues.wasm
    on_error: fail_open
  - name: b
    file: queues.wasm
    limits: { cpu_ms: 0 }
    colour: red
  - nope
`;
    assert.throws(
      () => parseConfig(text, '/x/s.yaml'),
      (/** @type {any} */ err) => {
        const m = String(err.message);
        assert.match(m, /s\.yaml:7:11: services\[0\]\.name: duplicate service name "a" \(also filters\[0\]\)/);
        assert.match(m, /services\[0\]\.on_error: unknown key; a service takes name, file, root_id, vm_id, config, vm_config, limits/);
        assert.match(m, /services\[1\]\.limits\.cpu_ms: expected a whole number of milliseconds, at least 1/);
        assert.match(m, /services\[1\]\.colour: unknown key/);
        assert.match(m, /services\[2\]: expected a mapping/);
        return true;
      },
    );
    assert.throws(() => parseConfig('upstream: http://127.0.0.1:1\nservices: 3\n', '/x/t.yaml'), /services: expected a list of services/);
  });
});
