// Sidecar plumbing: unix-socket upstream and listener, upstream failures (502/504), readiness,
// and filters built with the third-party AssemblyScript SDK.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, request } from 'undici';
import { FILTERS, SOLO, startProxy, tempDir, withProxy } from './helpers/proxy.mjs';
import { startUpstream } from './helpers/upstream.mjs';

describe('unix sockets', () => {
  let upstream;
  let proxy;
  let dir;

  before(async () => {
    dir = tempDir();
    upstream = await startUpstream(undefined, { socketPath: path.join(dir, 'app.sock') });
    proxy = await startProxy(
      `
upstream: unix:app.sock
filters:
  - name: hello
    file: ${FILTERS}/add_header.wasm
    config: { header: x-via-unix, value: yes }
`,
      { dir, listen: 'unix:proxy.sock' },
    );
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('serves on a unix socket and proxies to a unix-socket upstream', async () => {
    assert.equal(proxy.url, `unix:${path.join(dir, 'proxy.sock')}`);
    const client = new Client('http://localhost', { socketPath: path.join(dir, 'proxy.sock') });
    try {
      const res = await client.request({ path: '/over/unix', method: 'GET' });
      const echoed = /** @type {any} */ (await res.body.json());
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['x-via-unix'], 'yes');
      assert.equal(echoed.url, '/over/unix');
      assert.equal(echoed.headers['x-via-unix'], 'yes');
      assert.equal(echoed.headers['x-forwarded-for'], undefined, 'a unix-socket client has no address to forward');
    } finally {
      await client.close();
    }
  });
});

describe('upstream failures', () => {
  let proxy;
  let stalled;
  let deadPort;

  before(async () => {
    // A port nothing listens on: bind, note, close.
    const probe = createServer();
    await new Promise((r) => probe.listen(0, '127.0.0.1', () => r(undefined)));
    deadPort = /** @type {import('node:net').AddressInfo} */ (probe.address()).port;
    await new Promise((r) => probe.close(r));
    stalled = await startUpstream(() => {
      /* never answers */
    });
  });
  after(async () => {
    await proxy?.close();
    await stalled?.close();
  });

  it('answers 502 with a clear body when the upstream refuses connections, and /readyz says why', async () => {
    proxy = await startProxy(`upstream: http://127.0.0.1:${deadPort}\nfilters: []\n`);
    const res = await request(`${proxy.url}/x`);
    assert.equal(res.statusCode, 502);
    assert.equal(res.headers['x-outrigger-error'], 'OUTRIGGER_UPSTREAM_UNAVAILABLE');
    assert.equal(await res.body.text(), 'upstream unavailable: it refused the connection (OUTRIGGER_UPSTREAM_UNAVAILABLE)\n');
    const ready = await request(`${proxy.admin}/readyz`);
    assert.equal(ready.statusCode, 503);
    assert.deepEqual(/** @type {any} */ (await ready.body.json()), { status: 'not ready', problems: ['upstream unreachable: ECONNREFUSED'] });
    const health = await request(`${proxy.admin}/healthz`);
    assert.equal(health.statusCode, 200);
    await health.body.text();
    await proxy.close();
    proxy = null;
  });

  it('answers 504 when the upstream does not answer in upstream_timeout_ms', async () => {
    proxy = await startProxy(`upstream: ${stalled.url}\nupstream_timeout_ms: 300\nfilters: []\n`);
    const t0 = Date.now();
    const res = await request(`${proxy.url}/slow`);
    assert.equal(res.statusCode, 504);
    assert.equal(res.headers['x-outrigger-error'], 'OUTRIGGER_UPSTREAM_TIMEOUT');
    assert.match(await res.body.text(), /upstream timed out/);
    assert.ok(Date.now() - t0 < 5000);
    const ready = await request(`${proxy.admin}/readyz`);
    assert.equal(ready.statusCode, 200);
    await ready.body.text();
  });
});

describe('a filter built with @solo-io/proxy-runtime (ABI 0.2.0, AssemblyScript 0.17)', () => {
  const env = withProxy(
    (upstream) => `
upstream: ${upstream.url}
filters:
  - name: solo
    file: ${SOLO}/solo_filter.wasm
    root_id: solo_filter
    config: configured-by-outrigger
`,
  );

  it('runs unmodified: reads and adds headers, reads its config', async () => {
    const res = await request(`${env.proxy.url}/hello`, { method: 'PUT', body: 'x' });
    await res.body.text();
    assert.equal(res.statusCode, 200);
    assert.equal(env.upstream.seen.at(-1).headers['x-solo-seen'], '1');
    assert.equal(res.headers['x-solo-config'], 'configured-by-outrigger');
    assert.equal(res.headers['x-solo-method'], 'PUT');
    const filters = /** @type {any} */ (await (await request(`${env.proxy.admin}/filters`)).body.json());
    assert.equal(filters.filters[0].abi, '0.2.0');
  });

  it('sends its local response', async () => {
    const before = env.upstream.seen.length;
    const res = await request(`${env.proxy.url}/solo-deny`);
    assert.equal(res.statusCode, 403);
    assert.equal(res.headers['x-solo'], 'denied');
    assert.equal(await res.body.text(), 'denied by solo\n');
    assert.equal(env.upstream.seen.length, before);
    assert.equal(env.proxy.logs.filter((l) => l.code === 'OUTRIGGER_FILTER_TRAP').length, 0);
  });
});
