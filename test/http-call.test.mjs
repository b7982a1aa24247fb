// proxy_http_call end to end: `clusters:` (validated, reloadable, one pool each), the ext-authz
// example against a real auth server on loopback (allow, deny, server down, slow, client gone
// mid-call, hot swap with a call pending, unknown cluster), and the host call's error paths from a
// real compiled filter (the http_call fixture): missing pseudo-headers, a trap in the callback.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { parseConfig } from '../dist/host/config/load-config.js';
import { loadFilter } from '../dist/host/testing/index.js';
import { FILTERS, FIXTURES, SOLO, startProxy, tempDir } from './helpers/proxy.mjs';
import { parseExposition as parsePrometheus } from './helpers/prometheus.mjs';
import { startUpstream } from './helpers/upstream.mjs';
import { until } from './helpers/wait.mjs';

const T = { timeout: 30_000 };

/**
 * A loopback auth service: "Bearer good" → 200 + x-user; "Bearer bad" → 401; "Bearer hang*" → held until released; else 403.
 * @param {{ socketPath?: string }} [options]
 */
async function startAuth({ socketPath } = {}) {
  const seen = [];
  const held = [];
  let cutShort = 0;
  const server = createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    res.on('close', () => {
      if (!res.writableFinished) cutShort++;
    });
    req.resume();
    if (auth === 'Bearer good') {
      res.writeHead(200, { 'x-user': 'ann', 'content-length': 0 });
      res.end();
    } else if (auth === 'Bearer bad') {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="test"' });
      res.end('bad token\n');
    } else if (auth.startsWith('Bearer hang')) held.push({ auth, res });
    else if (req.url?.startsWith('/probe')) {
      // The http_call fixture: a chunked answer with a trailer.
      res.writeHead(202, { 'x-answer': req.headers['x-from-filter'] ?? '', trailer: 'x-done' });
      res.write(`pong:${req.method}:`);
      res.addTrailers({ 'x-done': 'yes' });
      res.end(req.url);
    } else {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('no\n');
    }
  });
  await new Promise((resolve) => (socketPath ? server.listen(socketPath, () => resolve(undefined)) : server.listen(0, '127.0.0.1', () => resolve(undefined))));
  const url = socketPath ? `unix:${socketPath}` : `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`;
  return {
    url,
    seen,
    held,
    get cutShort() {
      return cutShort;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve(undefined));
      }),
  };
}

/** A loopback port nothing listens on. */
async function deadPort() {
  const s = createServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(undefined)));
  const port = /** @type {import('node:net').AddressInfo} */ (s.address()).port;
  await new Promise((resolve) => s.close(() => resolve(undefined)));
  return port;
}

async function get(proxy, p = '/', headers = {}) {
  const res = await request(`${proxy.url}${p}`, { headers });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

async function callMetrics(proxy) {
  const text = await (await request(`${proxy.admin}/metrics`)).body.text();
  const fam = parsePrometheus(text).get('outrigger_http_calls_total');
  const out = {};
  for (const s of fam?.samples ?? []) out[`${s.labels.cluster}/${s.labels.outcome}`] = s.value;
  const inFlight = {};
  for (const s of parsePrometheus(text).get('outrigger_http_calls_in_flight')?.samples ?? []) inFlight[s.labels.cluster] = s.value;
  return { calls: out, inFlight };
}

describe('ext-authz example against a loopback auth server', () => {
  let auth;
  let upstream;
  let proxy;
  /** @param {{ cluster?: string, timeout?: number, authUrl?: string, extra?: string }} opts */
  const yaml = ({ cluster = 'auth', timeout = 10_000, authUrl = undefined, extra = '' }) => `
upstream: ${upstream.url}
filters_dir: ${FILTERS}
clusters:
  auth: ${authUrl ?? auth.url}
filters:
  - name: ext-authz
    file: ext_authz.wasm
    config: { cluster: ${cluster}, path_prefix: /check, timeout_ms: ${timeout}, upstream_headers: [x-user]${extra} }
`;
  /** @param {{ cluster?: string, timeout?: number, authUrl?: string, extra?: string }} opts */
  const reload = async (opts) => {
    writeFileSync(proxy.configFile, `listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\n${yaml(opts)}`);
    return proxy.running.reload();
  };

  before(async () => {
    auth = await startAuth();
    upstream = await startUpstream();
    proxy = await startProxy(yaml({}), { watch: false });
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
    await auth?.close();
  });

  it('allows a request the auth service answers 2xx, with its x-user copied onto the request', T, async () => {
    const r = await get(proxy, '/orders/7?x=1', { authorization: 'Bearer good' });
    assert.equal(r.status, 200);
    const echoed = JSON.parse(r.body);
    assert.equal(echoed.url, '/orders/7?x=1');
    assert.equal(echoed.headers['x-user'], 'ann');
    const asked = auth.seen.at(-1);
    assert.equal(asked.url, '/check/orders/7?x=1');
    assert.equal(asked.headers.authorization, 'Bearer good');
    assert.equal(asked.headers['x-forwarded-method'], 'GET');
    assert.equal(asked.headers.host, 'auth');
  });

  it("denies with the auth service's status, body and www-authenticate; the upstream never sees it", T, async () => {
    const before = upstream.seen.length;
    const r = await get(proxy, '/orders', { authorization: 'Bearer bad' });
    assert.equal(r.status, 401);
    assert.equal(r.body, 'bad token\n');
    assert.equal(r.headers['www-authenticate'], 'Bearer realm="test"');
    assert.equal((await get(proxy, '/orders')).status, 403);
    assert.equal(upstream.seen.length, before);
  });

  it('a client gone mid-call cancels the call (the auth socket is released) and the proxy keeps serving', T, async () => {
    const heldBefore = auth.held.length;
    const cutBefore = auth.cutShort;
    const { port } = new URL(proxy.url);
    const sock = connect(Number(port), '127.0.0.1');
    sock.on('error', () => {});
    sock.write('GET /gone HTTP/1.1\r\nhost: x\r\nauthorization: Bearer hang-gone\r\n\r\n');
    await until(() => auth.held.length > heldBefore, 'the auth call to arrive');
    sock.destroy();
    await until(() => auth.cutShort > cutBefore, 'the auth call to be cancelled');
    const m = await until(async () => {
      const x = await callMetrics(proxy);
      return x.calls['auth/cancelled'] >= 1 && x.inFlight.auth === 0 && x;
    }, 'cancelled counted');
    assert.equal(m.calls['auth/timeout'], 0);
    assert.equal((await get(proxy, '/', { authorization: 'Bearer good' })).status, 200);
  });

  it('a call pending across a hot swap (filter and cluster pool both replaced) completes on the generation that made it', T, async () => {
    const heldBefore = auth.held.length;
    const pending = get(proxy, '/slow-path', { authorization: 'Bearer hang-swap' });
    await until(() => auth.held.length > heldBefore, 'the auth call to arrive');
    const swap = await reload({ extra: ', headers: [authorization, cookie]', authUrl: `{ url: "${auth.url}", timeout_ms: 9000 }` });
    assert.equal(swap.changed, true);
    assert.ok(proxy.logs.some((l) => l.msg === 'clusters changed' && l.changed?.includes('auth')));
    const { res } = auth.held.at(-1);
    res.writeHead(200, { 'x-user': 'bob', 'content-length': 0 });
    res.end();
    const r = await pending;
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).headers['x-user'], 'bob');
    // The new generation serves (it forwards cookies too now).
    await get(proxy, '/', { authorization: 'Bearer good', cookie: 'c=1' });
    assert.equal(auth.seen.at(-1).headers.cookie, 'c=1');
  });

  it('a slow auth service fails closed after timeout_ms (403, as Envoy)', T, async () => {
    await reload({ timeout: 300 });
    const t0 = Date.now();
    const r = await get(proxy, '/', { authorization: 'Bearer hang-slow' });
    const ms = Date.now() - t0;
    assert.equal(r.status, 403);
    assert.equal(r.body, 'authorization service unavailable\n');
    assert.ok(ms >= 250 && ms < 10_000, `answered after ${ms} ms`);
    assert.ok((await callMetrics(proxy)).calls['auth/timeout'] >= 1);
    assert.ok(proxy.logs.some((l) => l.code === 'OUTRIGGER_HTTP_CALL_FAILED' && l.kind === 'timeout'));
  });

  it('an auth service that is down fails closed; a reload that changes the cluster swaps its pool', T, async () => {
    const seenLogs = proxy.logs.length;
    const r0 = await reload({ authUrl: `http://127.0.0.1:${await deadPort()}` });
    assert.equal(r0.error, undefined);
    assert.ok(proxy.logs.slice(seenLogs).some((l) => l.msg === 'clusters changed' && l.changed?.includes('auth')));
    const r = await get(proxy, '/', { authorization: 'Bearer good' });
    assert.equal(r.status, 403);
    assert.equal(r.body, 'authorization service unavailable\n');
    assert.ok((await callMetrics(proxy)).calls['auth/refused'] >= 1);
    // And back: the new pool reaches the service again.
    await reload({});
    assert.equal((await get(proxy, '/', { authorization: 'Bearer good' })).status, 200);
  });

  it('an unknown cluster is BadArgument with a log line naming it; the filter fails closed', T, async () => {
    await reload({ cluster: 'nope' });
    const r = await get(proxy, '/', { authorization: 'Bearer good' });
    assert.equal(r.status, 403);
    const line = proxy.logs.find((l) => l.code === 'OUTRIGGER_HTTP_CALL_BAD_ARGUMENT');
    assert.ok(line, 'a log line');
    assert.match(line.msg, /unknown cluster "nope" \(configured: auth\)/);
    assert.equal(line.result, 'BadArgument');
  });
});

describe('proxy_http_call from a compiled filter (http_call fixture), over a unix-socket cluster', () => {
  let backend;
  let upstream;
  let proxy;
  before(async () => {
    const dir = tempDir();
    backend = await startAuth({ socketPath: path.join(dir, 'backend.sock') });
    upstream = await startUpstream();
    proxy = await startProxy(
      `
upstream: ${upstream.url}
filters_dir: ${FIXTURES}
clusters:
  backend: { url: "${backend.url}", timeout_ms: 5000, max_connections: 4 }
  grpc-only: h2c://127.0.0.1:1
filters:
  - name: caller
    file: http_call.wasm
`,
      { watch: false },
    );
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
    await backend?.close();
  });

  it("the response's status, headers, body and trailers are readable in proxy_on_http_call_response", T, async () => {
    const r = await get(proxy, '/x');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'status=202 failed=0 x-answer=1 body=pong:POST:/probe/x trailers=1 pending=0');
  });

  it('the callback continues the paused request (set_effective_context + continue_stream)', T, async () => {
    const r = await get(proxy, '/y', { 'x-call-mode': 'continue' });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).headers['x-call-status'], '202');
  });

  for (const omit of [':method', ':path', ':authority'])
    it(`a call without ${omit} is BadArgument, logged with its name`, T, async () => {
      const r = await get(proxy, '/', { 'x-call-omit': omit });
      assert.equal(r.body, 'result=2');
      assert.ok(proxy.logs.some((l) => l.code === 'OUTRIGGER_HTTP_CALL_BAD_ARGUMENT' && l.msg.includes(`missing pseudo-header ${omit}`)));
    });

  it('an h2c cluster is refused for proxy_http_call (it is for gRPC calls)', T, async () => {
    const r = await get(proxy, '/', { 'x-call-cluster': 'grpc-only' });
    assert.equal(r.body, 'result=2');
    assert.ok(proxy.logs.some((l) => l.code === 'OUTRIGGER_HTTP_CALL_BAD_ARGUMENT' && /takes gRPC calls/.test(l.msg)));
  });

  it('a trap in proxy_on_http_call_response is a fault: the request gets the policy (503), the proxy keeps serving', T, async () => {
    const r = await get(proxy, '/', { 'x-call-mode': 'trap' });
    assert.equal(r.status, 503);
    assert.ok(proxy.logs.some((l) => l.code === 'OUTRIGGER_FILTER_TRAP' && l.callback === 'proxy_on_http_call_response'));
    const again = await until(async () => {
      const x = await get(proxy, '/z');
      return x.status === 200 && x;
    }, 'a fresh instance');
    assert.match(again.body, /^status=202/);
  });
});

describe("@solo-io/proxy-runtime's httpCall (solo_auth fixture, built unmodified with that SDK)", () => {
  let auth;
  let upstream;
  let proxy;
  before(async () => {
    auth = await startAuth();
    upstream = await startUpstream();
    proxy = await startProxy(
      `
upstream: ${upstream.url}
filters_dir: ${SOLO}
clusters:
  auth: ${auth.url}
filters:
  - name: solo-auth
    file: solo_auth.wasm
    root_id: solo_auth
    config: auth
`,
      { watch: false },
    );
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
    await auth?.close();
  });

  it('continues on 200 and answers 403 otherwise, as in Envoy', T, async () => {
    const ok = await get(proxy, '/in', { authorization: 'Bearer good' });
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.body).url, '/in');
    assert.equal(auth.seen.at(-1).url, '/check');
    assert.equal(auth.seen.at(-1).headers.authorization, 'Bearer good');
    const no = await get(proxy, '/in', { authorization: 'Bearer bad' });
    assert.equal(no.status, 403);
    assert.equal(no.body, 'not authorized\n');
  });
});

describe('the test harness: mocked clusters answer the same calls', () => {
  it('http_call fixture: response maps and body, failed calls, BadArgument with its log line, a trap', T, async () => {
    const f = await loadFilter(path.join(FIXTURES, 'http_call.wasm'), {
      clusters: {
        backend: (call) => ({
          status: 201,
          headers: { 'x-answer': call.headers['x-from-filter'] },
          body: `pong:${call.body}${call.path}`,
          trailers: { 'x-t': '1' },
        }),
        down: { fail: 'refused' },
      },
    });
    try {
      let r = await f.request({ path: '/a', headers: { 'x-call-timeout': '250' } });
      assert.equal(r.response?.body, 'status=201 failed=0 x-answer=1 body=pong:ping/probe/a trailers=1 pending=0');
      assert.deepEqual(
        { ...f.clusters.calls[0], headers: undefined },
        {
          cluster: 'backend',
          method: 'POST',
          path: '/probe/a',
          authority: 'backend.internal',
          headers: undefined,
          body: 'ping',
          timeoutMs: 250,
        },
      );
      r = await f.request({ headers: { 'x-call-cluster': 'down' } });
      assert.equal(r.response?.body, 'status=0 failed=1 x-answer= body= trailers=0 pending=0');
      r = await f.request({ headers: { 'x-call-cluster': 'nope' } });
      assert.equal(r.response?.body, 'result=2');
      assert.ok(f.logs.some((l) => l.code === 'OUTRIGGER_HTTP_CALL_BAD_ARGUMENT' && /no mocked cluster "nope"/.test(l.msg)));
      r = await f.request({ headers: { 'x-call-omit': ':path' } });
      assert.equal(r.response?.body, 'result=2');
      r = await f.request({ headers: { 'x-call-mode': 'continue' } });
      assert.equal(r.request?.headers['x-call-status'], '201');
      r = await f.request({ headers: { 'x-call-mode': 'trap' } });
      assert.equal(r.response?.status, 503);
      assert.equal(r.faults.length, 1);
    } finally {
      f.close();
    }
  });

  it('ext-authz allows and denies against a mocked auth cluster', T, async () => {
    const f = await loadFilter(path.join(FILTERS, 'ext_authz.wasm'), {
      config: { cluster: 'auth', upstream_headers: ['x-user'] },
      clusters: {
        auth: (c) =>
          c.headers.authorization === 'Bearer good'
            ? { status: 204, headers: { 'x-user': 'ann' } }
            : { status: 401, headers: { 'www-authenticate': 'Bearer', 'content-type': 'text/plain' }, body: 'bad token\n' },
      },
    });
    try {
      let r = await f.request({ path: '/p', headers: { authorization: 'Bearer good' } }, { status: 200, body: 'upstream' });
      assert.equal(r.response?.body, 'upstream');
      assert.equal(r.request?.headers['x-user'], 'ann');
      r = await f.request({ headers: { authorization: 'Bearer no' } });
      assert.equal(r.localReply?.status, 401);
      assert.equal(r.localReply?.body, 'bad token\n');
      assert.equal(r.localReply?.headers['www-authenticate'], 'Bearer');
      assert.equal(r.request, null);
    } finally {
      f.close();
    }
  });
});

describe('clusters: config errors', () => {
  const bad = (clusters) => {
    try {
      parseConfig(`upstream: http://127.0.0.1:1\nclusters:\n${clusters}`, '/etc/o.yaml', { checkFiles: false });
    } catch (err) {
      return err.message;
    }
    return '';
  };

  it('names the file, line, key and what is expected', T, () => {
    assert.match(
      bad('  auth: ftp://x:1\n'),
      /\/etc\/o\.yaml:3:9: clusters\.auth: unsupported URL "ftp:\/\/x:1"; expected one of http:\/\/, https:\/\/, unix:\/path, h2c:\/\//,
    );
    assert.match(bad('  auth: http://x:1/check\n'), /clusters\.auth: expected only scheme, host and port/);
    assert.match(
      bad('  auth: { url: "http://x:1", timeout: 5 }\n'),
      /\/etc\/o\.yaml:3:30: clusters\.auth\.timeout: unknown key; a cluster takes url, timeout_ms, max_connections/,
    );
    assert.match(
      bad('  auth: { url: "http://x:1", timeout_ms: -1 }\n'),
      /clusters\.auth\.timeout_ms: expected a positive whole number of milliseconds, got number -1/,
    );
    assert.match(bad('  auth: { timeout_ms: 5 }\n'), /clusters\.auth\.url: required: expected a URL/);
    assert.match(bad('  auth: 7\n'), /clusters\.auth: expected a URL .* or a mapping \{ url, timeout_ms, max_connections \}, got number 7/);
    assert.match(bad('  "bad name": http://x:1\n'), /clusters\.bad name: cluster name must be letters/);
    assert.match(bad('  - http://x:1\n'), /clusters: expected a mapping of cluster name to URL/);
    assert.match(bad('  auth: "unix:"\n'), /clusters\.auth: expected a socket path after "unix:"/);
  });

  it('accepts every scheme of the table, unix paths resolved against the config directory', T, () => {
    const c = parseConfig(
      'upstream: http://127.0.0.1:1\nclusters:\n  a: http://127.0.0.1:9000\n  b: https://auth.example:8443\n  c: unix:./auth.sock\n  d: { url: "h2c://127.0.0.1:50051", timeout_ms: 250, max_connections: 8 }\n',
      '/etc/outrigger/o.yaml',
      { checkFiles: false },
    );
    assert.deepEqual(
      c.clusters.map((x) => [x.name, x.url, x.transport, x.timeoutMs, x.maxConnections]),
      [
        ['a', 'http://127.0.0.1:9000', 'http', 30000, 1024],
        ['b', 'https://auth.example:8443', 'https', 30000, 1024],
        ['c', 'unix:/etc/outrigger/auth.sock', 'unix', 30000, 1024],
        ['d', 'h2c://127.0.0.1:50051', 'h2c', 250, 8],
      ],
    );
  });
});
