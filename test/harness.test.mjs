// The filter test harness (outrigger/testing) and `outrigger test`: real compiled filters run through
// the proxy's own WasmFilter and FilterChain, no network. Every assertion kind of the fixture format,
// and a failing fixture that reports what differed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { MockClusters, VirtualClock, loadFilter, runFixtureFile } from 'outrigger/testing';
import { FILTERS, FIXTURES, ROOT, tempDir } from './helpers/proxy.mjs';

const T = { timeout: 20_000 };

test('request and response headers, both directions, as the upstream and the client see them', T, async () => {
  const f = await loadFilter(path.join(FILTERS, 'add_header.wasm'), { config: { header: 'x-hello', value: 'world' } });
  try {
    const r = await f.request({ method: 'POST', path: '/p?q=1', headers: { 'x-in': 'a' }, body: 'ping' }, (req) => ({
      status: 201,
      headers: { 'content-type': 'text/plain', 'x-up': req.headers['x-hello'] },
      body: `got ${req.body}`,
    }));
    assert.equal(r.request.method, 'POST');
    assert.equal(r.request.path, '/p?q=1');
    assert.equal(r.request.headers['x-hello'], 'world');
    assert.equal(r.request.headers['x-in'], 'a');
    assert.equal(r.request.body, 'ping');
    assert.equal(r.response.status, 201);
    assert.equal(r.response.headers['x-hello'], 'world');
    assert.equal(r.response.headers['x-up'], 'world');
    assert.equal(r.response.body, 'got ping');
    assert.equal(r.localReply, null);
    // Start-up logs are in the filter's log, with their level.
    assert.ok(
      f.logs.some((l) => l.level === 'info' && l.msg.includes('adding x-hello: world')),
      JSON.stringify(f.logs),
    );
  } finally {
    f.close();
  }
});

test("a config the filter rejects fails loadFilter with the filter's own words", T, async () => {
  await assert.rejects(loadFilter(path.join(FILTERS, 'add_header.wasm'), { config: 'not json' }), (err) => {
    const e = /** @type {any} */ (err);
    assert.equal(e.code, 'OUTRIGGER_FILTER_CONFIGURE');
    assert.match(e.message, /must be a JSON object/);
    return true;
  });
});

test('local replies: the upstream is not reached, the reply is recorded', T, async () => {
  const f = await loadFilter(path.join(FILTERS, 'api_key_auth.wasm'), { config: { header: 'x-api-key', keys: ['demo-key'] } });
  try {
    let upstreamCalls = 0;
    const up = () => {
      upstreamCalls++;
      return { body: 'secret' };
    };
    const denied = await f.request({ path: '/' }, up);
    assert.equal(denied.request, null);
    assert.equal(denied.localReply.status, 401);
    assert.equal(denied.localReply.body, 'missing API key\n');
    assert.equal(denied.response.headers['www-authenticate'], 'ApiKey');
    const wrong = await f.request({ path: '/', headers: { 'x-api-key': 'nope' } }, up);
    assert.equal(wrong.localReply.status, 403);
    assert.equal(upstreamCalls, 0);
    const ok = await f.request({ path: '/', headers: { 'x-api-key': 'demo-key' } }, up);
    assert.equal(ok.localReply, null);
    assert.equal(ok.response.body, 'secret');
    assert.equal(ok.request.headers['x-api-key'], undefined, 'the key is removed before the upstream');
    assert.equal(upstreamCalls, 1);
  } finally {
    f.close();
  }
});

test('bodies: a buffered response body is rewritten', T, async () => {
  const f = await loadFilter(path.join(FILTERS, 'body_rewrite.wasm'), { config: { from: 'hello', to: 'howdy' } });
  try {
    const r = await f.request({}, { headers: { 'content-type': 'text/plain' }, body: 'hello, hello' });
    assert.equal(r.response.body, 'howdy, howdy');
    const bin = await f.request({}, { headers: { 'content-type': 'application/octet-stream' }, body: 'hello' });
    assert.equal(bin.response.body, 'hello');
  } finally {
    f.close();
  }
});

test('metrics and shared data: read after requests, seeded before', T, async () => {
  const f = await loadFilter(path.join(FIXTURES, 'stats.wasm'), { name: 'stats' });
  try {
    f.sharedData.set('hits', Buffer.from([41, 0, 0, 0]));
    const r1 = await f.request({ headers: { a: '1' } });
    assert.equal(r1.response.headers['x-shared-hits'], '42');
    await f.request();
    const m = f.metrics();
    assert.equal(m.requests, 2);
    assert.equal(m.last_path_length, 7);
    // Request header counts: 4 pseudo-headers, plus one on the first request.
    assert.deepEqual(m.header_count, { count: 2, sum: 9 });
    assert.deepEqual([...f.sharedData.getBytes('hits')], [43, 0, 0, 0]);
  } finally {
    f.close();
  }
});

test('ticks on a virtual clock: a held request goes on only when the test moves time', T, async () => {
  const clock = new VirtualClock(Date.UTC(2030, 0, 1));
  const f = await loadFilter(path.join(FIXTURES, 'hold.wasm'), { clock });
  try {
    let settled = false;
    const p = f.request({ path: '/hold' }).then((r) => {
      settled = true;
      return r;
    });
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    assert.equal(settled, false, 'held while no virtual time passes');
    assert.equal(await f.tick(49), 0);
    assert.equal(settled, false);
    assert.equal(await f.tick(1), 1, 'the 50 ms tick fires at 50 ms');
    const r = await p;
    assert.equal(r.request.headers['x-held'], 'released-by-tick');
    assert.equal(clock.nowMs, Date.UTC(2030, 0, 1) + 50);
  } finally {
    f.close();
  }
});

test("a trap: the fault, the policy's 503 and the log line; the next request gets a fresh instance", T, async () => {
  const f = await loadFilter(path.join(FIXTURES, 'trap.wasm'), { name: 'trap' });
  try {
    const r = await f.request({ path: '/trap' });
    assert.equal(r.request, null);
    assert.equal(r.localReply.status, 503);
    assert.equal(r.faults.length, 1);
    assert.equal(r.faults[0].code, 'OUTRIGGER_FILTER_TRAP');
    assert.ok(
      r.logs.some((l) => l.level === 'error' && l.msg.includes('unreachable')),
      JSON.stringify(r.logs),
    );
    await new Promise((res) => setImmediate(res));
    const next = await f.request({ path: '/ok' });
    assert.equal(next.response.status, 200);
    assert.equal(next.response.headers['x-trap-seen'], '1');
  } finally {
    f.close();
  }
});

test('fail_open: a trapping filter is skipped and the upstream answers', T, async () => {
  const f = await loadFilter(path.join(FIXTURES, 'trap.wasm'), { onError: 'fail_open' });
  try {
    const r = await f.request({ path: '/trap' }, { body: 'from upstream' });
    assert.equal(r.faults.length, 1);
    assert.equal(r.response.body, 'from upstream');
  } finally {
    f.close();
  }
});

test('mocked clusters answer proxy_http_call dispatches and record them', T, async () => {
  const clusters = new MockClusters({
    auth: (call) => ({ status: call.headers.authorization === 'Bearer t' ? 200 : 401, headers: { 'x-user': 'ann' }, body: 'ok' }),
    fixed: { status: 204 },
  });
  const r = await clusters.dispatch({
    cluster: 'auth',
    headers: [':method', 'GET', ':path', '/check', ':authority', 'auth', 'authorization', 'Bearer t'],
    body: Buffer.alloc(0),
    trailers: [],
    timeoutMs: 500,
  });
  assert.deepEqual(r.headers, [':status', '200', 'x-user', 'ann']);
  assert.equal(r.body.toString(), 'ok');
  assert.equal(clusters.calls[0].path, '/check');
  assert.equal(clusters.calls[0].timeoutMs, 500);
  assert.deepEqual((await clusters.dispatch({ cluster: 'fixed', headers: [], body: Buffer.alloc(0), trailers: [], timeoutMs: 1 })).headers, [':status', '204']);
  await assert.rejects(clusters.dispatch({ cluster: 'nope', headers: [], body: Buffer.alloc(0), trailers: [], timeoutMs: 1 }), /no mocked cluster "nope"/);
  // The filter under test gets them through its spec (proxy_http_call dispatches there).
  const f = await loadFilter(path.join(FILTERS, 'add_header.wasm'), { config: { header: 'a', value: 'b' }, clusters: { auth: { status: 200 } } });
  assert.ok(f.clusters instanceof MockClusters);
  f.close();
});

const FIXTURE_ALL_KINDS = `
filter: ${JSON.stringify(path.join(FIXTURES, 'stats.wasm'))}
cases:
  - name: first
    request: { method: PUT, path: /a, headers: { x-a: "1" }, body: data }
    upstream: { status: 202, headers: { content-type: text/plain }, body: done }
    expect:
      request: { method: PUT, path: /a, headers: { x-a: "1", x-nope: null }, body: data }
      response: { status: 202, headers: { x-counter: "1", content-type: { contains: text } }, body: { matches: "^do" } }
      local_reply: null
      reset: null
      faults: 0
      logs: []
      metrics: { requests: 1, last_path_length: 7 }
      shared_data: { missing: null }
`;

test('fixture files: every assertion kind passes on a filter that does what they say', T, async () => {
  const dir = tempDir();
  const file = path.join(dir, 'all.test.yaml');
  writeFileSync(file, FIXTURE_ALL_KINDS);
  const results = await runFixtureFile(file);
  assert.deepEqual(
    results.map((r) => [r.name, r.ok, r.differences]),
    [['first', true, []]],
  );
});

test('a failing fixture reports each difference, and outrigger test exits 1', T, async () => {
  const dir = tempDir();
  const file = path.join(dir, 'bad.test.yaml');
  writeFileSync(
    file,
    `
filter: ${JSON.stringify(path.join(FIXTURES, 'trap.wasm'))}
cases:
  - name: passes
    request: { path: /fine }
    expect: { response: { status: 200 } }
  - name: everything wrong
    request: { path: /trap }
    expect:
      request: { headers: { x-a: "1" } }
      response: { status: 200, headers: { x-trap-seen: "1" }, body: { contains: hello } }
      local_reply: null
      faults: 0
      logs: [ { level: warn, contains: "never logged" } ]
      metrics: { requests: 3 }
      shared_data: { k: v }
      bogus: 1
`,
  );
  const results = await runFixtureFile(file);
  assert.equal(results[0].ok, true);
  const bad = results[1];
  assert.equal(bad.ok, false);
  const d = bad.differences;
  assert.equal(d[0], 'request: expected one, got none');
  assert.equal(d[1], 'response.status: expected 200, got 503');
  assert.equal(d[2], 'response.headers.x-trap-seen: expected "1", got absent');
  assert.match(d[3], /^response\.body: expected \{"contains":"hello"\}, got "filter \\"filter\\" failed; see the proxy log\\n"$/);
  assert.equal(d[4], 'local_reply: expected none, got status 503');
  assert.match(d[5], /^faults: expected 0, got 1 \(.*unreachable/);
  assert.match(
    d[6],
    /^logs: expected a warn line containing "never logged", got error: filter trap in proxy_on_request_headers: .* \| error: filter "filter" failed: /,
  );
  assert.equal(d[7], 'metrics.requests: expected 3, got absent');
  assert.equal(d[8], 'shared_data.k: expected "v", got absent');
  assert.match(d[9], /^expect\.bogus: unknown expectation/);
  assert.equal(d.length, 10);

  const cli = spawnSync(process.execPath, [path.join(ROOT, 'bin/outrigger.js'), 'test', file], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(cli.status, 1, cli.stderr);
  assert.match(cli.stdout, /^ok {6}.*bad\.test\.yaml › passes/m);
  assert.match(cli.stdout, /^not ok .*bad\.test\.yaml › everything wrong/m);
  assert.match(cli.stdout, /^ {9}response\.status: expected 200, got 503$/m);
  assert.match(cli.stdout, /^1 passed, 1 failed/m);
});

test("outrigger test runs the add-header example's fixture (exit 0); a broken fixture file is a clear error", T, async () => {
  const started = performance.now();
  const cli = spawnSync(process.execPath, [path.join(ROOT, 'bin/outrigger.js'), 'test', 'examples/add-header'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 15_000,
  });
  const ms = performance.now() - started;
  assert.equal(cli.status, 0, cli.stdout + cli.stderr);
  assert.match(cli.stdout, /^ok {6}examples\/add-header\/add-header\.test\.yaml › adds the header/m);
  assert.match(cli.stdout, /^1 passed, 0 failed/m);
  process.stdout.write(`# outrigger test examples/add-header: ${ms.toFixed(0)} ms wall\n`);

  const dir = tempDir();
  writeFileSync(path.join(dir, 'x.test.yaml'), 'filter: missing.wasm\ncases: []\n');
  const bad = spawnSync(process.execPath, [path.join(ROOT, 'bin/outrigger.js'), 'test', dir], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /OUTRIGGER_TEST_FIXTURE: .*x\.test\.yaml: cannot start the filter: no such file .*missing\.wasm/);
});
