// gRPC callouts from a real compiled filter (test/fixtures/filters/grpc_client.ts, through the SDK's
// wrappers) to a real loopback gRPC server (@grpc/grpc-js), over the proxy's own HTTP/2 transport
// (host/http/grpc-client.ts): unary calls, a server stream, a bidi stream, and the error paths
// (unknown cluster, server down, deadline, cancel, a trap in a gRPC callback, the instance going away).
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { loadFilter, MockGrpcClusters } from 'outrigger/testing';
import { parseGrpcService } from '../dist/host/abi/grpc-service.js';
import { Http2GrpcClusters } from '../dist/host/http/grpc-client.js';
import { frameMessage, MessageDecoder } from '../dist/host/http/grpc-framing.js';
import { startGrpcServer } from './helpers/grpc-server.mjs';
import { FIXTURES, captureLogger } from './helpers/proxy.mjs';
import { until } from './helpers/wait.mjs';

const T = { timeout: 20_000 };
const WASM = path.join(FIXTURES, 'grpc_client.wasm');

/** A port nothing listens on (bound, then closed). */
async function deadPort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', () => r(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (s.address());
  await new Promise((r) => s.close(r));
  return port;
}

async function setup(extra = {}, logger = undefined) {
  const server = await startGrpcServer();
  for (const c of Object.values(extra)) if (typeof c === 'object' && !c.url) c.url = server.url;
  const clusters = new Http2GrpcClusters({ echo: server.url, ...extra }, { logger });
  const f = await loadFilter(WASM, { grpcClusters: clusters });
  return {
    server,
    f,
    async close() {
      f.close();
      clusters.close();
      await server.close();
    },
  };
}

test('unary call: the filter holds the request, calls the service and answers with the response', T, async () => {
  const { server, f, close } = await setup();
  try {
    const r = await f.request({ path: '/unary', headers: { 'x-msg': 'hello', 'x-md': 'm1' } });
    assert.equal(r.response.status, 200, JSON.stringify(r));
    assert.equal(r.response.body, 'echo:hello');
    assert.equal(r.response.headers['x-grpc-status'], '0');
    assert.equal(r.request, null, 'the upstream is not reached: the filter answered');
    assert.equal(server.calls.length, 1);
    assert.equal(server.calls[0].method, 'Unary');
    assert.equal(server.calls[0].request, 'hello');
    assert.equal(server.calls[0].metadata['x-md'], 'm1', 'the initial metadata reached the server');
    // Envoy's contract: a unary call gets one callback, proxy_on_grpc_receive, and no close.
    assert.equal(f.logs.filter((l) => l.msg.startsWith('grpc unary')).length, 1);
    // Two more on the same session (one HTTP/2 connection per cluster).
    const [a, b] = await Promise.all([f.request({ path: '/unary', headers: { 'x-msg': 'a' } }), f.request({ path: '/unary', headers: { 'x-msg': 'b' } })]);
    assert.equal(a.response.body, 'echo:a');
    assert.equal(b.response.body, 'echo:b');
  } finally {
    await close();
  }
});

test('server stream: initial metadata, every message, trailing metadata, then close OK', T, async () => {
  const { server, f, close } = await setup();
  try {
    const r = await f.request({ path: '/server-stream', headers: { 'x-msg': 'm' } });
    assert.equal(r.response.status, 200, JSON.stringify(r));
    assert.equal(r.response.body, 'm-1,m-2,m-3');
    assert.equal(r.response.headers['x-initial-md'], 'initial');
    assert.equal(r.response.headers['x-trailing-md'], 'trailing');
    assert.equal(r.response.headers['x-grpc-status'], '0');
    assert.equal(server.calls[0].method, 'ServerStream');
  } finally {
    await close();
  }
});

test('bidi stream: the filter sends a message per message received (proxy_grpc_send), then half-closes', T, async () => {
  const { server, f, close } = await setup();
  try {
    const r = await f.request({ path: '/bidi' });
    assert.equal(r.response.status, 200, JSON.stringify(r));
    assert.equal(r.response.body, 'echo:a,echo:b,echo:c');
    assert.equal(r.response.headers['x-grpc-status'], '0');
    assert.equal(server.calls[0].request, 'abc');
    // After proxy_grpc_close the stream is half-closed: send is BadArgument, close again Ok.
    const s = await f.request({ path: '/send-after-close' });
    assert.deepEqual([s.response.headers['x-close'], s.response.headers['x-send'], s.response.headers['x-close-again']], ['0', '2', '0']);
  } finally {
    await close();
  }
});

test('a failing call closes with the server status and message (proxy_get_status)', T, async () => {
  const { f, close } = await setup();
  try {
    const r = await f.request({ path: '/unary', headers: { 'x-method': 'Fail' } });
    assert.equal(r.response.status, 502);
    assert.equal(r.response.headers['x-grpc-status'], '7');
    assert.equal(r.response.body, 'no entry for you');
    // OK without a response message is Internal (13), as Envoy's async client reports it.
    const e = await f.request({ path: '/unary', headers: { 'x-method': 'Empty' } });
    assert.equal(e.response.headers['x-grpc-status'], '13');
    // A method the server lacks: UNIMPLEMENTED (12).
    const u = await f.request({ path: '/unary', headers: { 'x-method': 'Nope' } });
    assert.equal(u.response.headers['x-grpc-status'], '12');
  } finally {
    await close();
  }
});

test('unknown cluster: the host call fails at once (ParseFailure, as Envoy) and logs the name', T, async () => {
  const { server, f, close } = await setup();
  try {
    const r = await f.request({ path: '/unary', headers: { 'x-cluster': 'nowhere' } });
    assert.equal(r.response.status, 500);
    assert.equal(r.response.headers['x-grpc-result'], '4', 'WasmResult.ParseFailure');
    const s = await f.request({ path: '/server-stream', headers: { 'x-cluster': 'nowhere' } });
    assert.equal(s.response.headers['x-grpc-result'], '4');
    const line = f.logs.find((l) => l.code === 'OUTRIGGER_GRPC_CLUSTER');
    assert.ok(line, JSON.stringify(f.logs));
    assert.match(line.msg, /unknown cluster "nowhere"/);
    assert.equal(f.logs.filter((l) => l.code === 'OUTRIGGER_GRPC_CLUSTER').length, 1, 'logged once per cluster name');
    assert.equal(server.calls.length, 0);
  } finally {
    await close();
  }
});

test('server down: the call closes with UNAVAILABLE (14); the cluster works again once it is up', T, async () => {
  const port = await deadPort();
  const logs = captureLogger();
  const { f, close } = await setup({ down: `h2c://127.0.0.1:${port}` }, logs.logger);
  try {
    const r = await f.request({ path: '/unary', headers: { 'x-cluster': 'down' } });
    assert.equal(r.response.status, 502, JSON.stringify(r));
    assert.equal(r.response.headers['x-grpc-status'], '14');
    assert.match(r.response.body, /ECONNREFUSED/);
    const s = await f.request({ path: '/server-stream', headers: { 'x-cluster': 'down' } });
    assert.equal(s.response.headers['x-grpc-status'], '14');
    assert.ok(
      logs.lines.some((l) => l.code === 'OUTRIGGER_GRPC_TRANSPORT' && l.cluster === 'down'),
      JSON.stringify(logs.lines),
    );
    // The healthy cluster is unaffected.
    const ok = await f.request({ path: '/unary', headers: { 'x-msg': 'still' } });
    assert.equal(ok.response.body, 'echo:still');
  } finally {
    await close();
  }
});

test('deadline: a call slower than its timeout closes with DEADLINE_EXCEEDED (4) and is cancelled upstream', T, async () => {
  const { server, f, close } = await setup({ bounded: { url: '', timeoutMs: 150 } });
  try {
    const started = Date.now();
    const r = await f.request({ path: '/unary', headers: { 'x-method': 'Slow', 'x-timeout': '150' } });
    assert.equal(r.response.status, 502);
    assert.equal(r.response.headers['x-grpc-status'], '4');
    assert.ok(Date.now() - started >= 140, 'not before the deadline');
    await until(() => server.calls[0]?.cancelled, 'the server to see the call cancelled');
    // A filter's timeout 0 on a cluster with timeout_ms: the cluster's bound applies.
    const b = await f.request({ path: '/unary', headers: { 'x-cluster': 'bounded', 'x-method': 'Slow' } });
    assert.equal(b.response.headers['x-grpc-status'], '4');
    assert.match(b.response.body, /deadline exceeded after 150 ms/);
  } finally {
    await close();
  }
});

test('cancel: proxy_grpc_cancel resets the call upstream and nothing is called back', T, async () => {
  const { server, f, close } = await setup();
  try {
    const r = await f.request({ path: '/cancel', headers: { 'x-method': 'Slow' } });
    assert.equal(r.response.status, 200, 'the request went on to the upstream');
    assert.notEqual(r.request, null);
    await until(() => server.calls[0]?.cancelled, 'the server to see the call cancelled');
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(f.logs.filter((l) => l.msg.startsWith('grpc unary')).length, 0, JSON.stringify(f.logs));
  } finally {
    await close();
  }
});

test('a trap in a gRPC callback is a fault: the held request fails by policy, a fresh instance serves', T, async () => {
  const { f, close } = await setup();
  try {
    const r = await f.request({ path: '/unary', headers: { 'x-trap': '1' } });
    assert.equal(r.response.status, 503, JSON.stringify(r.response));
    assert.ok(
      f.logs.some((l) => l.code === 'OUTRIGGER_FILTER_TRAP' && l.callback === 'proxy_on_grpc_receive'),
      JSON.stringify(f.logs.filter((l) => l.level === 'error')),
    );
    await until(async () => (await f.request({ path: '/unary', headers: { 'x-msg': 'again' } })).response.body === 'echo:again', 'a fresh instance');
  } finally {
    await close();
  }
});

test('streams still open when the instance goes away are cancelled cleanly', T, async () => {
  const { server, f, close } = await setup();
  try {
    const r = await f.request({ path: '/stream-leak', headers: { 'x-msg': 'x' } });
    assert.equal(r.response.status, 200);
    await until(() => server.calls[0]?.request === 'x', 'the stream to reach the server');
    assert.equal(server.calls[0].cancelled, false);
    f.close();
    await until(() => server.calls[0].cancelled, 'the server to see the stream cancelled');
  } finally {
    await close();
  }
});

test('transport: a session that gets GOAWAY is replaced; a non-gRPC answer maps to a gRPC status', T, async () => {
  // A bare node:http2 server speaking gRPC framing by hand: GOAWAY after each response.
  const sessions = [];
  const h2 = http2.createServer();
  h2.on('session', (s) => sessions.push(s));
  h2.on('stream', (stream, headers) => {
    if (headers[':path'] === '/test.Echo/Http') {
      stream.respond({ ':status': 503 }, { endStream: true });
      return;
    }
    const dec = new MessageDecoder(1 << 20);
    /** @type {Buffer[]} */
    const got = [];
    stream.on('data', (/** @type {Buffer} */ c) => {
      const out = dec.push(c);
      if (Array.isArray(out)) got.push(...out);
    });
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      // One message split over two DATA frames: the decoder must join them.
      const framed = frameMessage(Buffer.from(`hand:${Buffer.concat(got)}`));
      stream.write(framed.subarray(0, 3));
      stream.end(framed.subarray(3));
      stream.session.goaway();
    });
  });
  await new Promise((r) => h2.listen(0, '127.0.0.1', () => r(undefined)));
  const h2port = /** @type {import('node:net').AddressInfo} */ (h2.address()).port;
  const clusters = new Http2GrpcClusters({ hand: `h2c://127.0.0.1:${h2port}` });
  const f = await loadFilter(WASM, { grpcClusters: clusters });
  try {
    for (const msg of ['one', 'two']) {
      const r = await f.request({ path: '/unary', headers: { 'x-cluster': 'hand', 'x-msg': msg } });
      assert.equal(r.response.body, `hand:${msg}`, JSON.stringify(r.response));
    }
    assert.equal(sessions.length, 2, 'a new session after GOAWAY');
    const h = await f.request({ path: '/unary', headers: { 'x-cluster': 'hand', 'x-method': 'Http' } });
    assert.equal(h.response.headers['x-grpc-status'], '14', 'HTTP 503 without grpc-status is UNAVAILABLE');
  } finally {
    f.close();
    clusters.close();
    for (const s of sessions) s.destroy();
    await new Promise((r) => h2.close(r));
  }
});

test('grpc_service: a serialized GrpcService names its cluster; other bytes are the name itself', () => {
  // envoy_grpc { cluster_name: "echo", authority: "svc.local" }, initial_metadata { key: "k", value: "v" }
  const inner = Buffer.from([0x0a, 4, ...Buffer.from('echo'), 0x12, 9, ...Buffer.from('svc.local')]);
  const md = Buffer.from([0x0a, 1, 0x6b, 0x12, 1, 0x76]);
  const proto = Buffer.from([0x0a, inner.length, ...inner, 0x2a, md.length, ...md]);
  assert.deepEqual(parseGrpcService(proto), { kind: 'cluster', cluster: 'echo', authority: 'svc.local', metadata: ['k', 'v'], fromProto: true });
  assert.deepEqual(parseGrpcService(Buffer.from('echo')), { kind: 'cluster', cluster: 'echo', metadata: [], fromProto: false });
  // google_grpc (2) names no cluster: refused.
  assert.equal(parseGrpcService(Buffer.from([0x12, 2, 0x0a, 0])).kind, 'unsupported');
  // Bytes that happen to parse as a message without a cluster are a name.
  assert.equal(parseGrpcService(Buffer.from([0x08, 0x01])).kind, 'cluster');
});

test('harness: MockGrpcClusters answers gRPC calls from the test and records them', T, async () => {
  const clusters = new MockGrpcClusters({
    echo: (call) =>
      call.method === 'ServerStream'
        ? { initialMetadata: { 'x-md': 'i' }, messages: ['p', 'q'], trailingMetadata: { 'x-md': 't' } }
        : { status: 5, message: 'not here' },
  });
  const f = await loadFilter(WASM, { grpcClusters: clusters });
  try {
    const r = await f.request({ path: '/server-stream', headers: { 'x-msg': 'hi', 'x-md': 'v' } });
    assert.equal(r.response.body, 'p,q');
    assert.deepEqual([r.response.headers['x-initial-md'], r.response.headers['x-trailing-md'], r.response.headers['x-grpc-status']], ['i', 't', '0']);
    const u = await f.request({ path: '/unary' });
    assert.equal(u.response.headers['x-grpc-status'], '5');
    assert.equal(u.response.body, 'not here');
    assert.equal(clusters.calls.length, 2);
    assert.equal(clusters.calls[0].service, 'test.Echo');
    assert.equal(clusters.calls[0].metadata['x-md'], 'v');
    assert.equal(clusters.calls[0].messages[0].toString(), 'hi');
  } finally {
    f.close();
  }
});
