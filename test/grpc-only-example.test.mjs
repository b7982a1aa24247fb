// The grpc-only example (examples/grpc-only): a gRPC-aware filter in a real proxy. Requests that are
// not gRPC get a local 415 saying what was wrong; gRPC requests reach the upstream unchanged.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { FILTERS, withProxy } from './helpers/proxy.mjs';

const T = { timeout: 30_000 };
const WASM = path.join(FILTERS, 'grpc_only.wasm');

describe('grpc-only: non-gRPC answered locally, gRPC passed through', () => {
  const env = withProxy(
    (upstream) => `
upstream: ${upstream.url}
filters:
  - name: grpc-only
    file: ${WASM}
    config: { allow: [/healthz] }
`,
  );

  it('answers a plain GET with 415 and the reason, without reaching the upstream', T, async () => {
    const before = env.upstream.seen.length;
    const r = await request(`${env.proxy.url}/pkg.Svc/Method`);
    assert.equal(r.statusCode, 415);
    assert.equal(r.headers.accept, 'application/grpc');
    assert.equal(await r.body.text(), 'this endpoint speaks gRPC only (POST with content-type application/grpc); got method GET (gRPC uses POST)\n');
    const j = await request(`${env.proxy.url}/pkg.Svc/Method`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(j.statusCode, 415);
    assert.match(await j.body.text(), /got content-type application\/json/);
    // application/grpcx is not gRPC.
    const x = await request(`${env.proxy.url}/pkg.Svc/Method`, { method: 'POST', headers: { 'content-type': 'application/grpcx' }, body: 'x' });
    assert.equal(x.statusCode, 415);
    await x.body.text();
    assert.equal(env.upstream.seen.length, before);
  });

  it('passes gRPC (and the allowed paths) through to the upstream', T, async () => {
    const before = env.upstream.seen.length;
    const framed = Buffer.from([0, 0, 0, 0, 2, 0x68, 0x69]);
    for (const ct of ['application/grpc', 'application/grpc+proto', 'application/grpc;charset=utf-8']) {
      const r = await request(`${env.proxy.url}/pkg.Svc/Method`, { method: 'POST', headers: { 'content-type': ct, te: 'trailers' }, body: framed });
      assert.equal(r.statusCode, 200, ct);
      await r.body.text();
    }
    const h = await request(`${env.proxy.url}/healthz`);
    assert.equal(h.statusCode, 200);
    await h.body.text();
    assert.equal(env.upstream.seen.length - before, 4);
    const seen = env.upstream.seen.at(-2);
    assert.equal(seen.headers['content-type'], 'application/grpc;charset=utf-8');
  });
});
