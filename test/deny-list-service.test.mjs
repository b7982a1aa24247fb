// examples/deny-list-service: a background service hands a deny-list to a filter through a shared
// queue; the filter answers 403 to listed path prefixes and client addresses. Both roots run on one
// instance (same vm_id and file); a new list (the service's config edited) goes live with the swap.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { FILTERS, startProxy } from './helpers/proxy.mjs';
import { startUpstream } from './helpers/upstream.mjs';
import { until } from './helpers/wait.mjs';

function yaml(upstream, entries) {
  return `upstream: ${upstream.url}
filters_dir: ${FILTERS}
filters:
  - name: deny-list
    file: deny_list_service.wasm
    root_id: deny-list-filter
    vm_id: deny-list
services:
  - name: deny-list-fetcher
    file: deny_list_service.wasm
    root_id: deny-list-service
    vm_id: deny-list
    config: { interval_ms: 50, entries: ${JSON.stringify(entries)} }
`;
}

/** @returns {Promise<any>} */
async function filters(proxy) {
  return (await request(`${proxy.admin}/filters`)).body.json();
}

async function get(proxy, p = '/') {
  const res = await request(`${proxy.url}${p}`);
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

describe('deny-list-service example', { timeout: 60_000 }, () => {
  let upstream;
  let proxy;
  before(async () => {
    upstream = await startUpstream();
    proxy = await startProxy(yaml(upstream, ['10.9.9.9', '/admin']));
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('denies a listed path prefix once the service has sent the list, and lets the rest through', async () => {
    await until(async () => Number((await get(proxy)).headers['x-deny-list-version']) >= 1, 'the first list');
    const denied = await get(proxy, '/admin/users');
    assert.equal(denied.status, 403);
    assert.equal(denied.body, 'denied by deny-list\n');
    assert.equal(upstream.seen.filter((r) => r.url.startsWith('/admin')).length, 0, 'the upstream never saw it');
    const ok = await get(proxy, '/public');
    assert.equal(ok.status, 200);
  });

  it('a new list from the service (its config edited) denies the client address', async () => {
    const before = (await filters(proxy)).filters.find((f) => f.name === 'deny-list');
    writeFileSync(proxy.configFile, `listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\n${yaml(upstream, ['127.0.0.1'])}`);
    await until(async () => (await get(proxy, '/public')).status === 403, 'the client address to be denied', 15_000);
    // /admin is no longer listed.
    assert.equal((await get(proxy, '/admin')).status, 403, 'still denied: by address now');
    // The filter and the service share one instance (same vm_id and file): the edit started both afresh.
    const afterSwap = (await filters(proxy)).filters.find((f) => f.name === 'deny-list');
    assert.ok(afterSwap.generation > before.generation);
    assert.equal(afterSwap.live_instances, 1);
  });
});
