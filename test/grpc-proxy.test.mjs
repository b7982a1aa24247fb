// gRPC callouts in the running proxy: clusters from `clusters:` (h2c://), a real compiled filter
// (test/fixtures/filters/grpc_client.ts), a real @grpc/grpc-js server on loopback, a plain HTTP/1.1
// client. A reload that points the cluster elsewhere takes effect on the next call.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { request } from 'undici';
import { startGrpcServer } from './helpers/grpc-server.mjs';
import { FIXTURES, startProxy } from './helpers/proxy.mjs';
import { until } from './helpers/wait.mjs';

const T = { timeout: 30_000 };
const WASM = path.join(FIXTURES, 'grpc_client.wasm');

const yaml = (url) => `
upstream: http://127.0.0.1:1
clusters:
  echo: ${url}
  bounded: { url: ${url}, timeout_ms: 200 }
filters:
  - name: grpc-client
    file: ${WASM}
`;

async function get(url, headers) {
  const r = await request(url, { headers });
  return { status: r.statusCode, headers: r.headers, body: await r.body.text() };
}

test('a filter in the proxy calls a gRPC cluster named under clusters:, and a reload re-points it', T, async () => {
  const a = await startGrpcServer();
  const b = await startGrpcServer();
  const proxy = await startProxy(yaml(a.url), { watch: false });
  try {
    const r = await get(`${proxy.url}/unary`, { 'x-msg': 'one' });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, 'echo:one');
    const s = await get(`${proxy.url}/server-stream`, { 'x-msg': 's' });
    assert.equal(s.body, 's-1,s-2,s-3');
    assert.equal(s.headers['x-trailing-md'], 'trailing');
    // timeout_ms of the cluster bounds a unary call whose filter passed 0.
    const slow = await get(`${proxy.url}/unary`, { 'x-cluster': 'bounded', 'x-method': 'Slow' });
    assert.equal(slow.headers['x-grpc-status'], '4');
    const unknown = await get(`${proxy.url}/unary`, { 'x-cluster': 'nope' });
    assert.equal(unknown.headers['x-grpc-result'], '4');
    assert.ok(proxy.logs.some((l) => l.code === 'OUTRIGGER_GRPC_CLUSTER' && l.cluster === 'nope'));
    assert.equal(a.calls.filter((c) => c.method === 'Unary').length, 1);
    // Re-point echo at server b.
    writeFileSync(proxy.configFile, `listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\n${yaml(b.url)}`);
    const reload = await request(`${proxy.admin}/reload`, { method: 'POST' });
    await reload.body.text();
    await until(async () => (await get(`${proxy.url}/unary`, { 'x-msg': 'two' })).body === 'echo:two' && b.calls.length > 0, 'calls to go to server b');
    assert.equal(a.calls.filter((c) => c.method === 'Unary').length, 1, 'server a got no more calls');
  } finally {
    await proxy.close();
    await a.close();
    await b.close();
  }
});
