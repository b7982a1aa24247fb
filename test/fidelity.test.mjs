// Issue 13's fidelity fixes, from a real compiled filter (test/fixtures/filters/fidelity.ts) through a
// real proxy to a real upstream: local-reply framing, set_buffer_bytes splices, host as :authority,
// metrics on undefined ids, date/server removal, the buffer-cap log, proxy_get_status, foreign
// functions, proxy_set_property and attributes.
import assert from 'node:assert/strict';
import { deflateSync, inflateSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { Client, request } from 'undici';
import { FIXTURES, withProxy } from './helpers/proxy.mjs';
import { rawRequest } from './helpers/raw.mjs';
import { until } from './helpers/wait.mjs';

/** Echoes what it got as JSON, with a server header a filter may remove; /big answers 256 KiB. */
function upstreamHandler(req, res) {
  if (req.url === '/big') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', server: 'test-upstream' });
    res.end(Buffer.alloc(256 * 1024, 0x61));
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.stringify({ url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString() });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), server: 'test-upstream' });
    res.end(body);
  });
}

/** A raw request with `x-op` (and more headers); returns the status, the header lines and the body. */
async function raw(url, op, { extra = '', method = 'GET', body = '' } = {}) {
  const head = `${method} / HTTP/1.1\r\nhost: example.test\r\nx-op: ${op}\r\n${extra}${body ? `content-length: ${Buffer.byteLength(body)}\r\n` : ''}connection: close\r\n\r\n`;
  const r = await rawRequest(url, head + body, { idleMs: 2_000 });
  const end = r.text.indexOf('\r\n\r\n');
  assert.ok(end > 0, `no response head in ${JSON.stringify(r.text.slice(0, 200))}`);
  const lines = r.text.slice(0, end).split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const headers = lines.slice(1).map((l) => {
    const i = l.indexOf(':');
    return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()];
  });
  return { status, headers, body: r.text.slice(end + 4), all: (name) => headers.filter(([k]) => k === name).map(([, v]) => v) };
}

describe('fidelity: one filter', { timeout: 60_000 }, () => {
  const env = withProxy(
    (up) => `
upstream: ${up.url}
filters_dir: ${FIXTURES}
max_buffered_body: 65536
filters:
  - name: fid
    file: fidelity.wasm
`,
    { handler: upstreamHandler },
  );

  it('a local reply without a body goes out with one content-length (0) and no guest transfer-encoding', async () => {
    const r = await raw(env.proxy.url, 'reply-nobody');
    assert.equal(r.status, 403);
    assert.deepEqual(r.all('content-length'), ['0']);
    assert.deepEqual(r.all('transfer-encoding'), []);
    assert.deepEqual(r.all('x-guest'), ['yes']);
    assert.equal(r.body, '');
  });

  it('a local reply with a body gets its real length, not the guest one, and content-type text/plain as Envoy', async () => {
    const r = await raw(env.proxy.url, 'reply-body');
    assert.equal(r.status, 403);
    assert.deepEqual(r.all('content-length'), ['6']);
    assert.deepEqual(r.all('content-type'), ['text/plain']);
    assert.equal(r.body, 'denied');
  });

  it('a local reply from the response phase goes out with one content-length', async () => {
    const r = await raw(env.proxy.url, 'resp-reply');
    assert.equal(r.status, 502);
    assert.deepEqual(r.all('content-length'), ['3']);
    assert.deepEqual(r.all('content-type'), ['text/plain']);
    assert.equal(r.body, 'bad');
  });

  for (const [name, start, size, data, want, code] of [
    // Envoy's own body test: "hello" with (0, 1, "partial.replace.") -> "partial.replace.ello".
    ['replaces the first size bytes (start 0, size < length)', 0, 1, 'partial.replace.', 'partial.replace.ello', '0'],
    ['prepends (start 0, size 0)', 0, 0, 'pre.', 'pre.hello', '0'],
    ['replaces all (start 0, size >= length)', 0, 99, 'all', 'all', '0'],
    ['appends (start >= length)', 5, 0, '.post', 'hello.post', '0'],
    ['appends (start u32 max)', 0xffffffff, 0, '.post', 'hello.post', '0'],
    ['refuses a splice in the middle as Envoy (BadArgument)', 2, 1, 'X', 'hello', '2'],
  ]) {
    it(`set_buffer_bytes ${name}`, async () => {
      const r = await raw(env.proxy.url, 'buffer', { method: 'POST', body: 'hello', extra: `x-start: ${start}\r\nx-size: ${size}\r\nx-data: ${data}\r\n` });
      assert.equal(r.status, 200);
      assert.deepEqual(r.all('x-r-set'), [code]);
      assert.equal(JSON.parse(r.body).body, want);
    });
  }

  it('setting host in the request map sets :authority: one Host upstream, no 502', async () => {
    const r = await raw(env.proxy.url, 'host-replace', { extra: 'x-data: rewritten.test:8443\r\n' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.all('x-r-authority'), ['rewritten.test:8443']);
    assert.deepEqual(r.all('x-r-host'), ['rewritten.test:8443']);
    const seen = JSON.parse(r.body);
    assert.equal(seen.headers.host, 'rewritten.test:8443');
    assert.equal(seen.rawHeaders.filter((h) => h.toLowerCase() === 'host').length, 1);
  });

  it('a host pair in proxy_set_header_map_pairs becomes :authority', async () => {
    const r = await raw(env.proxy.url, 'host-pairs', { extra: 'x-data: pairs.test\r\n' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.all('x-r-set'), ['0']);
    const seen = JSON.parse(r.body);
    assert.equal(seen.headers.host, 'pairs.test');
    assert.equal(seen.rawHeaders.filter((h) => h.toLowerCase() === 'host').length, 1);
  });

  it('increment / record / get on a metric id never defined answer NotFound (1)', async () => {
    const r = await raw(env.proxy.url, 'metric');
    assert.equal(r.body, '1,1,1');
  });

  it('a filter that removes date and server from a response gets its way', async () => {
    const r = await raw(env.proxy.url, 'strip');
    assert.equal(r.status, 200);
    assert.deepEqual(r.all('date'), []);
    assert.deepEqual(r.all('server'), []);
    // Without the filter's edit both are there: the upstream's server, and a date.
    const plain = await raw(env.proxy.url, 'none');
    assert.deepEqual(plain.all('server'), ['test-upstream']);
    assert.equal(plain.all('date').length, 1);
  });

  it('a response body over max_buffered_body is answered 500 and logged with the filter name', async () => {
    const res = await request(`${env.proxy.url}/big`, { headers: { 'x-op': 'cap' } });
    await res.body.text();
    assert.equal(res.statusCode, 500);
    assert.equal(res.headers['x-outrigger-error'], 'OUTRIGGER_RESPONSE_BODY_TOO_LARGE');
    const line = await until(() => env.proxy.logs.find((l) => l.code === 'OUTRIGGER_RESPONSE_BODY_TOO_LARGE'), 'the cap log line');
    assert.equal(line.filter, 'fid');
    assert.match(line.msg, /"fid"/);
  });
});

describe('fidelity: proxy_get_status, foreign functions, attributes', { timeout: 60_000 }, () => {
  const env = withProxy(
    (up) => `
upstream: ${up.url}
filters_dir: ${FIXTURES}
filters:
  - name: fid
    file: fidelity.wasm
`,
    { handler: upstreamHandler },
  );

  it('proxy_get_status answers Ok with code 0 and no message before any call', async () => {
    const r = await raw(env.proxy.url, 'status');
    assert.equal(r.body, '0,0,');
  });

  it('foreign function compress / uncompress as Envoy (zlib)', async () => {
    const text = 'hello hello hello hello';
    const c = await request(env.proxy.url, { method: 'POST', headers: { 'x-op': 'foreign', 'x-data': 'compress' }, body: text });
    const compressed = Buffer.from(await c.body.arrayBuffer());
    assert.equal(c.headers['x-r-foreign'], '0');
    assert.equal(inflateSync(compressed).toString(), text);
    const u = await request(env.proxy.url, { method: 'POST', headers: { 'x-op': 'foreign', 'x-data': 'uncompress' }, body: deflateSync(Buffer.from('abc')) });
    assert.equal(u.headers['x-r-foreign'], '0');
    assert.equal(await u.body.text(), 'abc');
    const bad = await request(env.proxy.url, { method: 'POST', headers: { 'x-op': 'foreign', 'x-data': 'uncompress' }, body: 'not zlib' });
    await bad.body.text();
    assert.equal(bad.headers['x-r-foreign'], '3', 'SerializationFailure');
  });

  it('an unknown foreign function is NotFound, logged once with its name', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await request(env.proxy.url, { method: 'POST', headers: { 'x-op': 'foreign', 'x-data': 'no_such_function' }, body: 'x' });
      await r.body.text();
      assert.equal(r.headers['x-r-foreign'], '1');
    }
    const lines = env.proxy.logs.filter((l) => l.code === 'OUTRIGGER_FOREIGN_FUNCTION_UNKNOWN');
    assert.equal(lines.length, 1);
    assert.equal(lines[0].function, 'no_such_function');
    assert.match(lines[0].msg, /no_such_function/);
  });

  it('request, connection and upstream attributes; unknown paths NotFound', async () => {
    // One client connection for both requests.
    const client = new Client(env.proxy.url);
    const r1 = await client.request({ path: '/', method: 'POST', headers: { 'x-op': 'attrs' }, body: 'hello' });
    const body = await r1.body.text();
    const r2 = await client.request({ path: '/', method: 'GET', headers: { 'x-op': 'attrs' } });
    await r2.body.text();
    await client.close();
    const h = r1.headers;
    assert.equal(h['x-r-request-size'], '5');
    assert.ok(Number(h['x-r-request-total-size']) > 5);
    assert.ok(Number(h['x-r-duration']) >= 0);
    assert.equal(h['x-r-upstream-address'], new URL(env.upstream.url).host);
    assert.equal(h['x-r-response-flags'], '0');
    assert.equal(h['x-r-code-details'], 'via_upstream');
    assert.equal(h['x-r-unknown'], 'status:1');
    assert.equal(h['x-r-unknown-root'], 'status:1');
    assert.match(String(h['x-r-connection-id']), /^\d+$/);
    // The same connection, the same id; a new connection, another.
    assert.equal(r2.headers['x-r-connection-id'], h['x-r-connection-id']);
    assert.equal(r2.headers['x-r-request-size'], '0');
    const other = await raw(env.proxy.url, 'attrs');
    assert.notEqual(other.all('x-r-connection-id')[0], h['x-r-connection-id']);
    // on_log sees the response's size as the client got it, the whole duration and the code.
    const line = await until(() => env.proxy.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('attrs ')), 'the on_log line');
    assert.match(line.msg, new RegExp(`response\\.size=${Buffer.byteLength(body)} `));
    assert.match(line.msg, /request\.size=5 /);
    assert.match(line.msg, /flags=0 code=200$/);
  });
});

describe('fidelity: proxy_set_property between filters', { timeout: 60_000 }, () => {
  const env = withProxy(
    (up) => `
upstream: ${up.url}
filters_dir: ${FIXTURES}
filters:
  - name: one
    file: fidelity.wasm
  - name: two
    file: fidelity.wasm
`,
    { handler: upstreamHandler },
  );

  for (const key of ['my_state', 'my.dotted.state']) {
    it(`a value one filter sets (${key}) is readable by the next, per request`, async () => {
      for (let i = 0; i < 2; i++) {
        const r = await raw(env.proxy.url, 'prop', { extra: `x-data: ${key}\r\n` });
        assert.equal(r.status, 200);
        assert.deepEqual(r.all('x-r-prop-one'), ['absent'], 'the first filter sees nothing: state is per request');
        assert.deepEqual(r.all('x-r-set-one'), ['0']);
        assert.deepEqual(r.all('x-r-prop-two'), ['one']);
      }
    });
  }

  it('a set_property cannot shadow an attribute for later filters', async () => {
    const r = await raw(env.proxy.url, 'prop', { extra: 'x-data: k\r\n' });
    assert.deepEqual(r.all('x-r-spoof-one'), ['0'], 'accepted, as Envoy (stored as filter state)');
    assert.match(r.all('x-r-source-two')[0], /^127\.0\.0\.1:\d+$/);
  });
});

describe('fidelity: response.flags when the upstream refuses', { timeout: 60_000 }, () => {
  const env = withProxy(
    () => `
upstream: http://127.0.0.1:9
filters_dir: ${FIXTURES}
filters:
  - name: fid
    file: fidelity.wasm
`,
  );

  it('on_log reads UF (0x20) and the status', async () => {
    const r = await raw(env.proxy.url, 'attrs');
    assert.equal(r.status, 502);
    const line = await until(() => env.proxy.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('attrs ')), 'the on_log line');
    assert.match(line.msg, /flags=32 code=502$/);
  });
});
