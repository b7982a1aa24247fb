// Shared queues (proxy_register/resolve/enqueue/dequeue_shared_queue, proxy_on_queue_ready) between
// real compiled filters in a running proxy: scoped by vm_id, the wake delivered to the registering
// root after the producer's callback, pending items surviving a hot swap of the consumer (and shared
// data with them), and the caps.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { FIXTURES, startProxy, tempDir } from './helpers/proxy.mjs';
import { startUpstream } from './helpers/upstream.mjs';
import { until } from './helpers/wait.mjs';

async function get(proxy, headers = {}) {
  const res = await request(`${proxy.url}/`, { headers });
  await res.body.text();
  return { status: res.statusCode, headers: /** @type {Record<string, string>} */ (res.headers) };
}

/** The chain: a producer (resolves "q"), then a consumer (registers "q"). */
function chainYaml(upstream, { consumer = '{ register: q }', producerVmId = 'shared', consumerVmId = 'shared', producer = '{ resolve: q }' } = {}) {
  return `upstream: ${upstream.url}
filters_dir: ${FIXTURES}
filters:
  - name: producer
    file: queues.wasm
    vm_id: ${producerVmId}
    config: ${producer}
  - name: consumer
    file: queues.wasm
    vm_id: ${consumerVmId}
    config: ${consumer}
`;
}

describe('shared queues between two filters', { timeout: 60_000 }, () => {
  let upstream;
  let proxy;
  before(async () => {
    upstream = await startUpstream();
    proxy = await startProxy(chainYaml(upstream));
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('an item enqueued by one filter reaches the registering root through proxy_on_queue_ready', async () => {
    const first = await get(proxy, { 'x-enqueue': 'hello' });
    assert.equal(first.status, 200);
    assert.equal(first.headers['x-enqueue-result'], '0');
    // The wake runs after the producer's callback returned (never inside the host call), so the
    // consumer of the same request has not seen it yet; a later request shows it arrived.
    assert.notEqual(first.headers['x-queue-id'], '0');
    const later = await until(async () => {
      const r = await get(proxy);
      return r.headers['x-received'] === 'hello' ? r : null;
    }, 'the consumer to receive the item');
    assert.equal(later.headers['x-wakes'], '1');
  });

  it('items arrive in order, and a consumer that drains all at once is woken once for a burst', async () => {
    const before = Number((await get(proxy)).headers['x-wakes']);
    const r = await get(proxy, { 'x-enqueue': 'b', 'x-enqueue-count': '5' });
    assert.equal(r.headers['x-enqueue-result'], '0');
    const seen = await until(async () => {
      const g = await get(proxy);
      return g.headers['x-received'] === 'hello,b,b,b,b,b' ? g : null;
    }, 'five more items');
    // Five enqueues in one callback, one wake: the first on_queue_ready drained the queue, so the
    // four wakes behind it would have found it empty and were dropped.
    assert.equal(Number(seen.headers['x-wakes']) - before, 1);
  });

  it('dequeue answers Empty for an empty queue and NotFound for an unknown id', async () => {
    const id = (await get(proxy)).headers['x-queue-id'];
    assert.equal((await get(proxy, { 'x-dequeue-id': id })).headers['x-dequeue-result'], '7');
    assert.equal((await get(proxy, { 'x-dequeue-id': '987654' })).headers['x-dequeue-result'], '1');
  });
});

describe('shared queue scoping by vm_id', { timeout: 60_000 }, () => {
  let upstream;
  let proxy;
  before(async () => {
    upstream = await startUpstream();
    proxy = await startProxy(
      chainYaml(upstream, { producerVmId: 'other', consumerVmId: 'owner', producer: '{ resolve: q }' }).replace(
        / {2}- name: consumer/,
        `  - name: explicit
    file: queues.wasm
    vm_id: other
    config: { resolve: q, resolve_vm_id: owner, enqueue_header: x-explicit }
  - name: consumer`,
      ),
    );
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('a queue of another vm_id is not found by name alone, and is found by naming that vm_id', async () => {
    // producer (vm_id other) resolves "q" in its own vm_id: NotFound (1); explicit names vm_id owner.
    const r = await get(proxy, { 'x-enqueue': 'x', 'x-explicit': 'x' });
    assert.equal(r.headers['x-enqueue-result'], 'resolve:1');
    assert.equal(r.headers['x-explicit-result'], '0');
    await until(async () => (await get(proxy)).headers['x-received'] === 'x', 'the explicitly addressed item');
  });
});

describe('shared queues and shared data across a hot swap of the consumer', { timeout: 60_000 }, () => {
  let upstream;
  let proxy;
  let dir;
  before(async () => {
    upstream = await startUpstream();
    dir = tempDir();
    proxy = await startProxy(chainYaml(upstream, { consumer: '{ register: q, drain: none }' }), { dir });
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('a new generation re-registering the queue gets the items still pending, and shared data stays', async () => {
    await get(proxy, { 'x-enqueue': 'one', 'x-set-shared': 'k=kept' });
    await get(proxy, { 'x-enqueue': 'two' });
    const idBefore = (
      await until(async () => {
        const r = await get(proxy);
        return r.headers['x-wakes'] === '2' ? r : null;
      }, 'two wakes (not drained)')
    ).headers['x-queue-id'];
    // The consumer's config changes: a new instance, root context and generation.
    writeFileSync(proxy.configFile, `listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\n${chainYaml(upstream, { consumer: '{ register: q, drain: all }' })}`);
    const after = await until(
      async () => {
        const r = await get(proxy);
        return r.headers['x-received'] === 'one,two' ? r : null;
      },
      'the new consumer to drain the pending items',
      15_000,
    );
    assert.equal(after.headers['x-queue-id'], idBefore, 'the same queue id');
    assert.equal(after.headers['x-wakes'], '1', 'woken once when it took the queue over');
    assert.equal((await get(proxy, { 'x-get-shared': 'k' })).headers['x-shared-value'], 'kept');
    // And it keeps working for new items.
    await get(proxy, { 'x-enqueue': 'three' });
    await until(async () => (await get(proxy)).headers['x-received'] === 'one,two,three', 'a new item after the swap');
  });
});

describe('shared queue caps', { timeout: 60_000 }, () => {
  let upstream;
  let proxy;
  before(async () => {
    upstream = await startUpstream();
    proxy = await startProxy(chainYaml(upstream, { consumer: '{ register: q, drain: none }' }));
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('an item over 1 MiB is BadArgument; a queue at 10 000 items refuses with InternalFailure and logs it', async () => {
    assert.equal((await get(proxy, { 'x-enqueue': 'big', 'x-enqueue-size': String(1024 * 1024 + 1) })).headers['x-enqueue-result'], '2');
    assert.equal((await get(proxy, { 'x-enqueue': 'fill', 'x-enqueue-count': '10000' })).headers['x-enqueue-result'], '0');
    assert.equal((await get(proxy, { 'x-enqueue': 'over' })).headers['x-enqueue-result'], '10');
    assert.equal((await get(proxy, { 'x-enqueue': 'over' })).headers['x-enqueue-result'], '10');
    const lines = proxy.logs.filter((l) => l.code === 'OUTRIGGER_SHARED_QUEUE_FULL');
    assert.equal(lines.length, 1, 'logged once while full');
    assert.equal(lines[0].queue, 'q');
    assert.equal(lines[0].items, 10000);
    // The proxy keeps serving.
    assert.equal((await get(proxy)).status, 200);
  });
});
