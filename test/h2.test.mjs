// HTTP/2 on the data path (issue 13, "HTTP/2 and trailers on the data path"): the listener takes h2c
// with prior knowledge beside HTTP/1.1 on one port, h2 streams go through the same checks and filter
// chain (pseudo-headers as Envoy gives them), an upstream may be h2c://, and a gRPC-shaped call keeps
// its response trailers (grpc-status) end to end. Real sockets: node:http2 clients and servers, curl
// --http2-prior-knowledge when curl is on the machine, raw sockets for the HTTP/1.1 side.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { grpcFrame, grpcMessages, h2Request, startH2Upstream } from './helpers/h2.mjs';
import { FILTERS, FIXTURES, startProxy, tempDir } from './helpers/proxy.mjs';
import { rawConnection, rawRequest, startRecordingUpstream } from './helpers/raw.mjs';
import { startUpstream } from './helpers/upstream.mjs';

const T = { timeout: 30_000 };
const run = promisify(execFile);
const CURL = await run('curl', ['--version']).then(
  (r) => /HTTP2/.test(r.stdout),
  () => false,
);

function filtersDir(...files) {
  const dir = tempDir();
  mkdirSync(path.join(dir, 'filters'));
  for (const [from, name] of files) copyFileSync(path.join(from, name), path.join(dir, 'filters', name));
  return dir;
}

const FILTER_YAML =
  'filters_dir: ./filters\nfilters:\n  - name: hdr\n    file: add_header.wasm\n    config: { header: x-a, value: b }\n  - name: seen\n    file: seen.wasm\n';

describe('h2c with prior knowledge beside HTTP/1.1 on one port', () => {
  let up;
  let proxy;
  before(async () => {
    up = await startUpstream();
    proxy = await startProxy(`upstream: ${up.url}\n${FILTER_YAML}`, { dir: filtersDir([FILTERS, 'add_header.wasm'], [FIXTURES, 'seen.wasm']) });
  });
  after(async () => {
    await proxy?.close();
    await up?.close();
  });

  it('node:http2 GET and POST go through the filters; the chain sees :method :path :authority :scheme', T, async () => {
    const g = await h2Request(proxy.url, { path: '/g/./x?q=1', headers: { ':authority': 'svc.local:8443', 'x-chain': 'c' } });
    assert.equal(g.status, 200);
    assert.equal(g.headers['x-a'], 'b');
    // normalize_path applies as over HTTP/1.1; :authority is what the filters and the upstream's Host get.
    assert.equal(g.headers['x-seen-path'], '/g/x?q=1');
    assert.equal(g.headers['x-seen-authority'], 'svc.local:8443');
    assert.equal(g.headers['x-seen-proto'], 'http');
    const echoed = JSON.parse(g.body.toString());
    assert.equal(echoed.url, '/g/x?q=1');
    assert.equal(echoed.headers.host, 'svc.local:8443');
    assert.equal(echoed.headers['x-a'], 'b');
    assert.equal(echoed.headers['x-chain'], 'c');
    const body = Buffer.alloc(300_000, 0x62);
    const p = await h2Request(proxy.url, { method: 'POST', path: '/p', headers: { ':authority': 'a', 'content-type': 'text/plain' }, body });
    assert.equal(p.status, 200);
    const e = JSON.parse(p.body.toString());
    assert.equal(e.method, 'POST');
    assert.equal(e.body.length, body.length);
  });

  it('many concurrent streams on one session each get their own answer', T, async () => {
    const session = http2.connect(proxy.url);
    try {
      const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => h2Request(proxy.url, { path: `/c/${i}`, headers: { ':authority': 'a' }, session })));
      rs.forEach((r, i) => {
        assert.equal(r.status, 200);
        assert.equal(JSON.parse(r.body.toString()).url, `/c/${i}`);
      });
    } finally {
      session.close();
    }
  });

  it('curl --http2-prior-knowledge GET and POST; curl over HTTP/1.1 on the same port', {
    ...T,
    skip: CURL ? false : 'curl with HTTP/2 not on this machine',
  }, async () => {
    const g = await run('curl', ['-s', '-i', '--http2-prior-knowledge', `${proxy.url}/curl`]);
    assert.match(g.stdout, /^HTTP\/2 200/);
    assert.match(g.stdout, /x-a: b/);
    const p = await run('curl', ['-s', '--http2-prior-knowledge', '-d', 'hello', `${proxy.url}/curl-post`]);
    assert.equal(JSON.parse(p.stdout).body, 'hello');
    const h1 = await run('curl', ['-s', '-i', '--http1.1', `${proxy.url}/curl-h1`]);
    assert.match(h1.stdout, /^HTTP\/1\.1 200/);
    assert.match(h1.stdout, /x-a: b/);
  });

  it('HTTP/1.1 still works on the port, also when the first bytes arrive one at a time (a "P" could start the preface)', T, async () => {
    const { text } = await rawRequest(proxy.url, 'GET /h1 HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 200 /);
    const c = await rawConnection(proxy.url);
    for (const b of ['P', 'O', 'S']) {
      c.write(b);
      await new Promise((r) => setTimeout(r, 30));
    }
    c.write('T /slow HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi');
    const t = await c.waitFor((_t, closed) => closed);
    assert.match(t, /^HTTP\/1\.1 200 /, t);
    assert.equal(JSON.parse(t.slice(t.indexOf('\r\n\r\n') + 4)).body, 'hi');
  });

  it('h2 requests meet the same rejections: a path above the root and a Host naming another authority get 400', T, async () => {
    const above = await h2Request(proxy.url, { path: '/a/../../x', headers: { ':authority': 'a' } });
    assert.equal(above.status, 400);
    assert.equal(above.headers['x-outrigger-error'], 'OUTRIGGER_BAD_REQUEST');
    const twoHosts = await h2Request(proxy.url, { path: '/x', headers: { ':authority': 'a', host: 'b' } });
    assert.equal(twoHosts.status, 400);
    // The session survives a rejected stream.
    const session = http2.connect(proxy.url);
    try {
      assert.equal((await h2Request(proxy.url, { path: '/a/../../x', headers: { ':authority': 'a' }, session })).status, 400);
      assert.equal((await h2Request(proxy.url, { path: '/ok', headers: { ':authority': 'a' }, session })).status, 200);
    } finally {
      session.close();
    }
  });

  it('a local reply reaches an h2 client without HTTP/1.1 connection headers', T, async () => {
    const r = await h2Request(proxy.url, { path: '/x', headers: { ':authority': 'a', 'x-refuse': '1' } });
    assert.equal(r.status, 403);
    assert.equal(r.body.toString(), 'refused by filter\n');
  });
});

describe('gRPC-shaped calls over h2c to an h2c:// upstream, trailers intact', () => {
  let up;
  let proxy;
  let filtered;
  before(async () => {
    up = await startH2Upstream();
    proxy = await startProxy(`upstream: ${up.url}\n`);
    filtered = await startProxy(
      `upstream: ${up.url}\nfilters_dir: ./filters\nfilters:\n  - name: a\n    file: trailers.wasm\n    config: a\n  - name: b\n    file: trailers.wasm\n    config: b\n`,
      { dir: filtersDir([FIXTURES, 'trailers.wasm']) },
    );
  });
  after(async () => {
    await proxy?.close();
    await filtered?.close();
    await up?.close();
  });

  const call = (url, extra = {}) =>
    h2Request(url, {
      method: 'POST',
      path: '/echo.Echo/Say',
      headers: { ':authority': 'grpc.local', 'content-type': 'application/grpc', te: 'trailers', ...extra },
      body: Buffer.concat([grpcFrame('hello'), grpcFrame('there')]),
    });

  it('the unary call reaches the upstream over HTTP/2 and its grpc-status trailer reaches the client', T, async () => {
    const r = await call(proxy.url);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/grpc');
    assert.deepEqual(grpcMessages(r.body), ['echo:hello,there']);
    assert.equal(r.trailers['grpc-status'], '0');
    assert.equal(r.trailers['grpc-message'], 'ok');
    const got = up.seen.at(-1);
    assert.equal(got.headers[':path'], '/echo.Echo/Say');
    assert.equal(got.headers[':authority'], 'grpc.local');
    assert.equal(got.headers.te, 'trailers');
  });

  it('filters see and rewrite the response trailers (on_response_trailers, reverse order)', T, async () => {
    const r = await call(filtered.url, { 'x-upper-grpc-message': '1' });
    assert.equal(r.status, 200);
    assert.deepEqual(grpcMessages(r.body), ['echo:hello,there']);
    assert.equal(r.trailers['grpc-status'], '0');
    assert.equal(r.trailers['grpc-message'], 'OK');
    assert.equal(r.trailers['x-seen-resp-trailers'], 'grpc-status=0;grpc-message=ok');
    assert.equal(r.trailers['x-trailer-chain'], 'b, a'); // node joins repeated fields
  });

  it('an h2 client gets an HTTP/1.1 upstream response trailers as HTTP/2 trailers', T, async () => {
    const h1 = await startRecordingUpstream(() => 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nx-sum: 42\r\n\r\n');
    const p = await startProxy(`upstream: ${h1.url}\n`);
    try {
      const r = await h2Request(p.url, { path: '/t', headers: { ':authority': 'a' } });
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'ok');
      assert.equal(r.trailers['x-sum'], '42');
    } finally {
      await p.close();
      await h1.close();
    }
  });

  it('h2 request trailers reach the filters (on_request_trailers) and an HTTP/1.1 upstream that was told of them', T, async () => {
    const h1 = await startRecordingUpstream(() => 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    const p = await startProxy(`upstream: ${h1.url}\nfilters_dir: ./filters\nfilters:\n  - name: a\n    file: trailers.wasm\n    config: a\n`, {
      dir: filtersDir([FIXTURES, 'trailers.wasm']),
    });
    try {
      const r = await h2Request(p.url, {
        method: 'POST',
        path: '/t',
        headers: { ':authority': 'a', trailer: 'x-checksum' },
        body: 'data',
        trailers: { 'x-checksum': 'abc' },
      });
      assert.equal(r.status, 200);
      const got = Buffer.concat(h1.connections.at(-1).received).toString('latin1');
      assert.match(got, /\r\n0\r\nx-checksum: abc\r\nx-seen-req-trailers: x-checksum=abc\r\nx-trailer-chain: a\r\n\r\n$/, got);
    } finally {
      await p.close();
      await h1.close();
    }
  });
});
