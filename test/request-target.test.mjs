// Issue 12 points 3, 7 and 8: the request target filters and the upstream see (absolute form,
// normalize_path, Host checks, OPTIONS *, CONNECT), forwarded headers and x-request-id, and the
// listener's rejections counted and logged. Raw bytes on a socket; a recording upstream shows what
// went through.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { FILTERS, FIXTURES, startProxy } from './helpers/proxy.mjs';
import { parseResponses, rawRequest, startRecordingUpstream } from './helpers/raw.mjs';

const T = { timeout: 30_000 };

function proxyYaml(upstream, extra = '') {
  return `
upstream: ${upstream.url}
filters_dir: ${FIXTURES}
${extra}
filters:
  - name: auth
    file: ${FILTERS}/api_key_auth.wasm
    config: { keys: [k1], paths: [/private] }
  - name: seen
    file: seen.wasm
`;
}

/** One request's raw bytes → the parsed response and the requests the upstream got meanwhile. */
async function exchange(env, bytes) {
  const before = env.upstream.requests.length;
  const r = await rawRequest(env.proxy.url, bytes, { idleMs: 300 });
  return { res: parseResponses(r.text)[0], text: r.text, upstream: env.upstream.requests.slice(before) };
}

function startEnv(extra) {
  const env = {};
  before(async () => {
    env.upstream = await startRecordingUpstream();
    env.proxy = await startProxy(proxyYaml(env.upstream, extra), { watch: false });
  });
  after(async () => {
    await env.proxy?.close();
    await env.upstream?.close();
  });
  return env;
}

describe('the request target (normalize_path on by default)', () => {
  const env = startEnv();

  for (const [target, hostHeader] of [
    ['http://a/private/x', 'b'],
    ['/./private/x', 'a'],
    ['/public/../private/x', 'a'],
    ['//private/x', 'a'],
    ['/%70rivate/x', 'a'],
    ['/%2e/private/x', 'a'],
    ['/public/%2E%2E/private/x', 'a'],
    ['HTTP://a//private//x', 'a'],
  ])
    it(`api-key-auth guarding /private is not walked past by ${target}`, T, async () => {
      const { res, upstream } = await exchange(env, `GET ${target} HTTP/1.1\r\nhost: ${hostHeader}\r\nconnection: close\r\n\r\n`);
      assert.equal(res.status, 401, `${target} must meet the auth filter`);
      assert.equal(upstream.length, 0, 'nothing reached the upstream');
    });

  it('the absolute form becomes the origin form, :authority from the URI (not the Host header)', T, async () => {
    const { res, upstream } = await exchange(env, 'GET http://svc.local:8080/a/./b?q=%2e HTTP/1.1\r\nhost: other\r\nconnection: close\r\n\r\n');
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-seen-path'], '/a/b?q=%2e');
    assert.equal(res.headers['x-seen-authority'], 'svc.local:8080');
    assert.equal(upstream.length, 1);
    assert.equal(upstream[0].target, '/a/b?q=%2e');
    assert.equal(upstream[0].headers.host, 'svc.local:8080');
  });

  it('normalizes before the filters: what they see is what the upstream gets', T, async () => {
    const { res, upstream } = await exchange(env, 'GET /a//b/%7Euser/./c/../d/%2f/%41? HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n');
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-seen-path'], '/a/b/~user/d/%2F/A?');
    assert.equal(upstream[0].target, '/a/b/~user/d/%2F/A?');
  });

  it('a key still opens /private after normalization', T, async () => {
    const { res, upstream } = await exchange(env, 'GET /public/../private/x HTTP/1.1\r\nhost: h\r\nx-api-key: k1\r\nconnection: close\r\n\r\n');
    assert.equal(res.status, 200);
    assert.equal(upstream[0].target, '/private/x');
  });

  for (const [name, bytes, status] of [
    ['a path above the root', 'GET /../etc/passwd HTTP/1.1\r\nhost: h\r\n\r\n', 400],
    ['an encoded path above the root', 'GET /a/%2e%2e/%2E%2E/x HTTP/1.1\r\nhost: h\r\n\r\n', 400],
    ['a broken percent-encoding', 'GET /a%zz HTTP/1.1\r\nhost: h\r\n\r\n', 400],
    ['two Host headers', 'GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n', 400],
    ['two Host headers, different case', 'GET / HTTP/1.1\r\nHost: a\r\nHOST: a\r\n\r\n', 400],
    ['a Host with a space', 'GET / HTTP/1.1\r\nhost: a b\r\n\r\n', 400],
    ['a Host with a bad port', 'GET / HTTP/1.1\r\nhost: a:99999\r\n\r\n', 400],
    ['a Host with a path', 'GET / HTTP/1.1\r\nhost: a/b\r\n\r\n', 400],
    ['an absolute URI with user info', 'GET http://u:p@a/ HTTP/1.1\r\nhost: a\r\n\r\n', 400],
    ['an absolute URI of another scheme', 'GET ftp://a/ HTTP/1.1\r\nhost: a\r\n\r\n', 400],
    ['a target without a slash', 'GET abc HTTP/1.1\r\nhost: a\r\n\r\n', 400],
    ['"*" with GET', 'GET * HTTP/1.1\r\nhost: a\r\n\r\n', 400],
  ])
    it(`${name} → ${status}, nothing upstream, the connection closed`, T, async () => {
      const { res, text, upstream } = await exchange(env, bytes);
      assert.equal(res?.status, status, text);
      assert.equal(res.headers.connection, 'close');
      assert.equal(res.headers['x-outrigger-error'], 'OUTRIGGER_BAD_REQUEST');
      assert.equal(upstream.length, 0);
    });

  it('OPTIONS * is forwarded as is', T, async () => {
    const { res, upstream } = await exchange(env, 'OPTIONS * HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'OPTIONS *');
    assert.equal(upstream.length, 1);
    assert.equal(upstream[0].target, '*');
  });

  it('CONNECT gets 405 OUTRIGGER_METHOD_NOT_SUPPORTED, logged and counted', T, async () => {
    const { res, upstream } = await exchange(env, 'CONNECT a:443 HTTP/1.1\r\nhost: a:443\r\n\r\n');
    assert.equal(res.status, 405);
    assert.equal(res.headers['x-outrigger-error'], 'OUTRIGGER_METHOD_NOT_SUPPORTED');
    assert.equal(upstream.length, 0);
    assert.ok(env.proxy.logs.some((l) => l.reason === 'connect_method' && l.status === 405 && /^127\.0\.0\.1:\d+$/.test(l.peer)));
  });
});

describe('normalize_path: false', () => {
  const env = startEnv('normalize_path: false');
  it('forwards the path as it came', T, async () => {
    const { res, upstream } = await exchange(env, 'GET /a//b/./c HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n');
    assert.equal(res.status, 200);
    assert.equal(upstream[0].target, '/a//b/./c');
  });
});

describe('forwarded headers and x-request-id', () => {
  const env = startEnv();

  it('x-forwarded-proto is the listener scheme, the client value overwritten; x-forwarded-for appended', T, async () => {
    const { res, upstream } = await exchange(
      env,
      'GET /p HTTP/1.1\r\nhost: h\r\nx-forwarded-proto: https\r\nx-forwarded-for: 10.0.0.1\r\nconnection: close\r\n\r\n',
    );
    assert.equal(res.headers['x-seen-proto'], 'http');
    assert.equal(upstream[0].headers['x-forwarded-proto'], 'http');
    assert.equal(upstream[0].headers['x-forwarded-for'], '10.0.0.1, 127.0.0.1');
  });

  it('a request without x-request-id gets one before the filters; filters and upstream share it', T, async () => {
    const a = await exchange(env, 'GET /p HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n');
    const b = await exchange(env, 'GET /p HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n');
    const id = a.res.headers['x-seen-request-id'];
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(a.upstream[0].headers['x-request-id'], id);
    assert.notEqual(b.res.headers['x-seen-request-id'], id);
  });

  it("keeps the client's x-request-id", T, async () => {
    const { res, upstream } = await exchange(env, 'GET /p HTTP/1.1\r\nhost: h\r\nx-request-id: abc-123\r\nconnection: close\r\n\r\n');
    assert.equal(res.headers['x-seen-request-id'], 'abc-123');
    assert.equal(upstream[0].headers['x-request-id'], 'abc-123');
  });
});

describe('trust_forwarded_headers: true, generate_request_id: false', () => {
  const env = startEnv('trust_forwarded_headers: true\ngenerate_request_id: false');

  it("keeps the client's x-forwarded-proto and adds no x-request-id", T, async () => {
    const { res, upstream } = await exchange(env, 'GET /p HTTP/1.1\r\nhost: h\r\nx-forwarded-proto: https\r\nconnection: close\r\n\r\n');
    assert.equal(res.headers['x-seen-proto'], 'https');
    assert.equal(upstream[0].headers['x-forwarded-proto'], 'https');
    assert.equal(res.headers['x-seen-request-id'], '-');
    assert.equal(upstream[0].headers['x-request-id'], undefined);
  });

  it('without a client value, x-forwarded-proto is the listener scheme', T, async () => {
    const { upstream } = await exchange(env, 'GET /p HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n');
    assert.equal(upstream[0].headers['x-forwarded-proto'], 'http');
  });
});

describe('rejections are counted and logged, rate-limited', () => {
  const env = startEnv();

  it('parser errors: 400 with the parser code, 431 for large headers, 414 for a long target', T, async () => {
    const bad = await exchange(env, 'GET / HTTP/1.1\r\nhost: h\r\nbad header\r\n\r\n');
    assert.equal(bad.res.status, 400);
    const big = await exchange(env, `GET / HTTP/1.1\r\nhost: h\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.equal(big.res.status, 431);
    assert.equal(big.res.headers['x-outrigger-error'], 'OUTRIGGER_HEADERS_TOO_LARGE');
    const long = await exchange(env, `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nhost: h\r\n\r\n`);
    assert.equal(long.res.status, 414);
    assert.equal(long.res.headers['x-outrigger-error'], 'OUTRIGGER_URI_TOO_LONG');
    assert.equal(bad.upstream.length + big.upstream.length + long.upstream.length, 0);
    const logged = env.proxy.logs.filter((l) => l.status !== undefined && l.reason !== undefined);
    assert.ok(logged.some((l) => l.status === 400 && /^HPE_/.test(l.reason) && l.peer));
    assert.ok(logged.some((l) => l.status === 431 && l.reason === 'headers_too_large'));
    assert.ok(logged.some((l) => l.status === 414 && l.reason === 'uri_too_long'));
  });

  it('a flood is counted in full but logged at most 10 lines a second', T, async () => {
    const start = env.proxy.logs.length;
    await Promise.all(Array.from({ length: 40 }, () => exchange(env, 'GET / HTTP/1.1\r\nhost: a b\r\n\r\n')));
    const lines = env.proxy.logs.slice(start).filter((l) => l.reason === 'invalid_host');
    assert.ok(lines.length >= 1 && lines.length <= 30, `logged ${lines.length} lines for 40 rejections`);
    const metrics = await (await request(`${env.proxy.admin}/metrics`)).body.text();
    const m = /outrigger_listener_rejections_total\{reason="invalid_host"\} (\d+)/.exec(metrics);
    if (m) assert.ok(Number(m[1]) >= 40, metrics);
  });
});

describe('normalize_path, trust_forwarded_headers, generate_request_id in the config', () => {
  it('defaults: true, false, true; a wrong type names file:line, key and what is expected', async () => {
    const { parseConfig } = await import('../dist/host/config/load-config.js');
    const ok = parseConfig('upstream: http://127.0.0.1:1\n', '/x/o.yaml', { checkFiles: false });
    assert.deepEqual([ok.normalizePath, ok.trustForwardedHeaders, ok.generateRequestId], [true, false, true]);
    assert.throws(
      () =>
        parseConfig('upstream: http://127.0.0.1:1\nnormalize_path: "yes"\ntrust_forwarded_headers: 1\ngenerate_request_id: off\n', '/x/o.yaml', {
          checkFiles: false,
        }),
      (/** @type {any} */ err) => {
        assert.equal(err.code, 'OUTRIGGER_CONFIG_INVALID');
        assert.match(err.message, /o\.yaml:2:\d+: normalize_path: expected true or false, got string "yes"/);
        assert.match(err.message, /o\.yaml:3:\d+: trust_forwarded_headers: expected true or false, got number 1/);
        assert.match(err.message, /o\.yaml:4:\d+: generate_request_id: expected true or false, got string "off"/);
        return true;
      },
    );
  });
});
