// One VM per vm_id: filters and services naming the same vm_id and file share one instance, each
// with its own root context (root_id, config), as Envoy shares a VM: module globals are shared, and a
// fault in any root's callback replaces the instance for all of them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { FIXTURES, startProxy } from './helpers/proxy.mjs';
import { startUpstream } from './helpers/upstream.mjs';
import { until } from './helpers/wait.mjs';

async function get(proxy, headers = {}) {
  const res = await request(`${proxy.url}/`, { headers });
  await res.body.text();
  return { status: res.statusCode, headers: /** @type {Record<string, string>} */ (res.headers) };
}

async function filters(proxy) {
  return /** @type {any} */ (await (await request(`${proxy.admin}/filters`)).body.json()).filters;
}

const pair = (vmA, vmB) => `
  - name: a
    file: queues.wasm
    vm_id: ${vmA}
    config: { register: qa }
  - name: b
    file: queues.wasm
    vm_id: ${vmB}
    config: { register: qb }
`;

describe('two filters sharing one VM by vm_id', { timeout: 60_000 }, () => {
  let upstream;
  let shared;
  let apart;
  before(async () => {
    upstream = await startUpstream();
    shared = await startProxy(`upstream: ${upstream.url}\nfilters_dir: ${FIXTURES}\nfilters:${pair('one', 'one')}`);
    apart = await startProxy(`upstream: ${upstream.url}\nfilters_dir: ${FIXTURES}\nfilters:${pair('one', 'two')}`);
  });
  after(async () => {
    await shared?.close();
    await apart?.close();
    await upstream?.close();
  });

  it('a module-global counter is seen by both filters when they share the instance', async () => {
    const r1 = await get(shared);
    const r2 = await get(shared);
    // Each request runs a then b on the same instance: the one counter goes up twice per request.
    assert.deepEqual([r1.headers['x-global-a'], r1.headers['x-global-b']], ['1', '2']);
    assert.deepEqual([r2.headers['x-global-a'], r2.headers['x-global-b']], ['3', '4']);
    // Each kept its own root context and config (plugin_name, its own queue).
    assert.notEqual(r1.headers['x-queue-id'], undefined);
    const list = await filters(shared);
    assert.equal(list.find((f) => f.name === 'a').live_instances, 1);
  });

  it('with different vm_ids each filter has its own instance and its own globals', async () => {
    const r1 = await get(apart);
    const r2 = await get(apart);
    assert.deepEqual([r1.headers['x-global-a'], r1.headers['x-global-b']], ['1', '1']);
    assert.deepEqual([r2.headers['x-global-a'], r2.headers['x-global-b']], ['2', '2']);
  });
});

describe('a service and a filter sharing one VM', { timeout: 60_000 }, () => {
  let upstream;
  let proxy;
  before(async () => {
    upstream = await startUpstream();
    proxy = await startProxy(`upstream: ${upstream.url}
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
    config: { tick_ms: 30, tick_item: t, resolve: q, fail_on_tick: 4 }
`);
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('the queue works between roots of one instance, and a fault in the service replaces the instance for the filter too', async () => {
    // Before the fault (tick 4) the consumer's root has t-1..t-3; the counter counts its requests.
    const before = await until(async () => {
      const r = await get(proxy);
      return r.headers['x-received']?.startsWith('t-1') ? r : null;
    }, 'items from the service root');
    assert.equal(before.status, 200);
    // Tick 4 aborts in the service's root: the shared instance is replaced, so the consumer's root
    // starts again too (its list of received items begins afresh).
    await until(() => proxy.logs.find((l) => l.filter === 'ticker' && l.callback === 'proxy_on_tick' && l.kind === 'trap'), 'the service fault');
    await until(
      async () => {
        const r = await get(proxy);
        return r.status === 200 && Number(r.headers['x-global-consumer']) === 1 ? r : null;
      },
      'the consumer on a fresh instance (its request counter restarted)',
      10_000,
    );
    const list = await filters(proxy);
    // The fault is the shared instance's: both members count it.
    assert.ok(list.find((f) => f.name === 'consumer').faults.trap >= 1);
    assert.ok(list.find((f) => f.name === 'ticker').faults.trap >= 1);
  });
});
