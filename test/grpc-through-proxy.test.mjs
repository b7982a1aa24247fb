// A real gRPC client (@grpc/grpc-js) through the proxy's h2c listener, the grpc-only example filter
// and an h2c:// upstream that is a real gRPC server: unary and server streaming calls keep
// their messages and their trailers (grpc-status, trailing metadata) end to end.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import grpc from '@grpc/grpc-js';
import { ECHO_SERVICE, startGrpcServer } from './helpers/grpc-server.mjs';
import { FILTERS, startProxy } from './helpers/proxy.mjs';

const T = { timeout: 30_000 };
const id = (/** @type {Buffer} */ b) => b;

test('grpc-js client -> h2c listener -> grpc-only filter -> h2c:// gRPC server, trailers intact', T, async () => {
  const server = await startGrpcServer();
  const proxy = await startProxy(
    `
upstream: h2c://127.0.0.1:${server.port}
filters:
  - name: grpc-only
    file: ${path.join(FILTERS, 'grpc_only.wasm')}
`,
    { watch: false },
  );
  const client = new grpc.Client(proxy.url.replace('http://', ''), grpc.credentials.createInsecure());
  try {
    const md = new grpc.Metadata();
    md.set('x-md', 'through');
    const unary = await new Promise((resolve, reject) =>
      client.makeUnaryRequest(ECHO_SERVICE.Unary.path, id, id, Buffer.from('hi'), md, (err, res) => (err ? reject(err) : resolve(res))),
    );
    assert.equal(String(unary), 'echo:hi');
    assert.equal(server.calls[0].metadata['x-md'], 'through');

    const call = client.makeServerStreamRequest(ECHO_SERVICE.ServerStream.path, id, id, Buffer.from('s'));
    const got = [];
    /** @type {any} */
    let trailing = null;
    call.on('data', (d) => got.push(String(d)));
    call.on('status', (s) => {
      trailing = s;
    });
    await new Promise((resolve, reject) => {
      call.on('end', resolve);
      call.on('error', reject);
    });
    assert.deepEqual(got, ['s-1', 's-2', 's-3']);
    await new Promise((r) => setImmediate(r));
    assert.equal(trailing?.code, 0);
    assert.equal(trailing?.metadata.get('x-md')[0], 'trailing', 'trailing metadata reached the client');

    // Not asserted here: a trailers-only failure (grpc-status in the response HEADERS with END_STREAM,
    // as grpc-js sends PERMISSION_DENIED) reaches the client as INTERNAL through the listener today.
  } finally {
    client.close();
    await proxy.close();
    await server.close();
  }
});
