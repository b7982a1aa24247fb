// Crash recovery a user can see: a filter that traps, aborts or calls proc_exit in any phase gets its
// on_error policy (after the response started: the connection is closed), is replaced by a fresh
// instance, and a crash-looping one opens its breaker, lets one trial request through half-open and
// closes again. /filters shows the state, the counts by kind, the last error and a named backtrace;
// unknown imports are listed, and refused with strict_imports.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { parseConfig } from '../dist/host/config/load-config.js';
import { FIXTURES, startProxy } from './helpers/proxy.mjs';
import { startUpstream } from './helpers/upstream.mjs';
import { until } from './helpers/wait.mjs';

const T = { timeout: 20_000 };

function faultYaml(upstream, { phase, mode = 'unreachable', nth = 1, policy = 'fail_closed', breaker = '' }) {
  return `
upstream: ${upstream.url}
filters_dir: ${FIXTURES}
filters:
  - name: faulty
    file: fault_phase.wasm
    on_error: ${policy}
    config: { phase: ${phase}, mode: ${mode}, nth: ${nth} }
${breaker ? `    breaker: ${breaker}\n` : ''}`;
}

async function filterInfo(proxy, name = 'faulty') {
  const res = await request(`${proxy.admin}/filters`);
  const body = /** @type {any} */ (await res.body.json());
  return body.filters.find((f) => f.name === name);
}

async function get(proxy, path, opts = {}) {
  const res = await request(`${proxy.url}${path}`, opts);
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body };
}

/** Raw HTTP/1.1 exchange: everything the proxy wrote, and whether the connection ended. */
function rawGet(url, path) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname);
    const chunks = [];
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', () => {}); // a reset is one of the outcomes under test
    sock.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    sock.write(`GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
    sock.setTimeout(10_000, () => {
      sock.destroy();
      reject(new Error('raw request timed out'));
    });
  });
}

describe('fault kinds, counts and backtrace', () => {
  /** @type {[string, string, RegExp][]} */
  const cases = [
    ['unreachable', 'trap', /unreachable/],
    ['abort', 'trap', /fault_phase deliberate abort/],
    ['exit', 'exit', /proc_exit\(3\)/],
  ];
  for (const [mode, kind, message] of cases) {
    it(`${mode}: 503, counted as ${kind}, logged and shown with a named backtrace`, T, async () => {
      const upstream = await startUpstream();
      const proxy = await startProxy(faultYaml(upstream, { phase: 'request_headers', mode }));
      try {
        const before = await filterInfo(proxy);
        assert.equal(before.state, 'active');
        assert.deepEqual(before.faults, { trap: 0, deadline: 0, memory: 0, exit: 0 });
        const res = await get(proxy, '/fault');
        assert.equal(res.status, 503);
        assert.equal(res.headers['x-outrigger-filter'], 'faulty');
        assert.equal(upstream.seen.length, 0, 'the upstream was not called');
        const info = await filterInfo(proxy);
        assert.equal(info.faults[kind], 1);
        assert.equal(info.traps, 1);
        assert.match(info.last_error, message);
        if (mode === 'unreachable') {
          // The name section names the functions (the fixture is built with it); innermost first.
          assert.match(info.backtrace[0], /crashByUnreachable/, info.backtrace.join(' < '));
          assert.ok(
            info.backtrace.some((f) => /onRequestHeaders|proxy_on_request_headers/.test(f)),
            info.backtrace.join(' < '),
          );
        }
        const line = proxy.logs.find((l) => l.kind === kind && l.callback === 'proxy_on_request_headers');
        assert.ok(line, 'the fault is logged with its kind and callback');
        assert.deepEqual(line.backtrace, info.backtrace);
        assert.equal(line.faults[kind], 1);
        // The next request runs on a fresh instance.
        await until(async () => (await filterInfo(proxy)).state === 'active', 'the fresh instance');
        const ok = await get(proxy, '/ok');
        assert.equal(ok.status, 200);
        assert.equal(ok.headers['x-fault-seen'], '1', 'a fresh instance counts from 1');
      } finally {
        await proxy.close();
        await upstream.close();
      }
    });
  }
});

describe('on_error at every phase', () => {
  const phases = ['request_headers', 'request_body', 'response_headers', 'response_body', 'log'];
  for (const policy of ['fail_closed', 'fail_open']) {
    it(`${policy}: a fault in each phase gets the policy, and the filter recovers`, T, async () => {
      for (const phase of phases) {
        const upstream = await startUpstream();
        const proxy = await startProxy(faultYaml(upstream, { phase, policy }));
        try {
          const res = await get(proxy, '/fault', { method: 'POST', body: 'hello' });
          if (phase === 'log' || policy === 'fail_open') {
            // on_log runs after the response: it is already out. fail_open skips the filter.
            assert.equal(res.status, 200, `${phase}: ${res.body}`);
            assert.equal(JSON.parse(res.body).body, 'hello', `${phase}: the upstream's answer`);
          } else {
            assert.equal(res.status, 503, `${phase}: ${res.body}`);
            assert.equal(res.headers['x-outrigger-filter'], 'faulty');
          }
          const faulted = await until(async () => {
            const f = await filterInfo(proxy);
            return f.faults.trap === 1 && f;
          }, `${phase}: the fault counted`);
          assert.match(faulted.last_error, /unreachable/);
          await until(async () => (await filterInfo(proxy)).state === 'active', `${phase}: back to active`);
          const ok = await get(proxy, '/ok', { method: 'POST', body: 'again' });
          assert.equal(ok.status, 200);
          assert.equal(ok.headers['x-fault-seen'], '1', `${phase}: served by a fresh instance`);
          // Every context was closed: the dead instance is gone, only the fresh one is left.
          const after = await until(async () => {
            const f = await filterInfo(proxy);
            return f.live_instances === 1 && f;
          }, `${phase}: the faulted instance released`);
          assert.equal(after.live_instances, 1);
        } finally {
          await proxy.close();
          await upstream.close();
        }
      }
    });
  }
});

describe('a fault after the response started', () => {
  // Headers and a first chunk go out; the filter faults on the second chunk.
  const slowBody = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first-chunk;');
    setTimeout(() => res.end('second-chunk'), 150);
  };

  it('fail_closed: the downstream connection is closed without ending the response, and the log says so', T, async () => {
    const upstream = await startUpstream(slowBody);
    const proxy = await startProxy(faultYaml(upstream, { phase: 'response_body', nth: 2 }));
    try {
      const raw = await rawGet(proxy.url, '/fault');
      assert.match(raw, /^HTTP\/1\.1 200/);
      assert.match(raw, /first-chunk;/);
      assert.doesNotMatch(raw, /second-chunk/);
      assert.doesNotMatch(raw, /\r\n0\r\n\r\n$/, 'no last chunk: the client can tell the response is cut');
      const line = await until(() => proxy.logs.find((l) => l.code === 'OUTRIGGER_RESPONSE_ABORTED'), 'the log line');
      assert.equal(line.filter, 'faulty');
      assert.match(line.msg, /after the response started; downstream connection closed/);
      const fault = proxy.logs.find((l) => l.code === 'OUTRIGGER_FILTER_TRAP' && l.responseStarted === true);
      assert.ok(fault, 'the per-request fault line says the response had started');
      assert.match(fault.msg, /downstream connection closed/);
      // And the proxy keeps serving.
      const ok = await rawGet(proxy.url, '/ok');
      assert.match(ok, /second-chunk\r\n0\r\n\r\n$/);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });

  it('fail_open: the filter is skipped and the whole response arrives', T, async () => {
    const upstream = await startUpstream(slowBody);
    const proxy = await startProxy(faultYaml(upstream, { phase: 'response_body', nth: 2, policy: 'fail_open' }));
    try {
      const raw = await rawGet(proxy.url, '/fault');
      assert.match(raw, /^HTTP\/1\.1 200/);
      assert.match(raw, /first-chunk;/);
      assert.match(raw, /second-chunk\r\n0\r\n\r\n$/, 'the response ends properly');
      assert.equal((await filterInfo(proxy)).faults.trap, 1);
      assert.equal(
        proxy.logs.some((l) => l.code === 'OUTRIGGER_RESPONSE_ABORTED'),
        false,
      );
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});

describe('the crash-loop breaker', () => {
  // backoff_ms well above what the steps between the faults take on a loaded machine.
  const breaker = '{ max_faults: 3, window_ms: 60000, backoff_ms: 1000, max_backoff_ms: 8000 }';
  // /slow answers after 300 ms, so a half-open trial is still in flight when the others arrive.
  const handler = (req, res) => {
    const answer = () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    };
    if (req.url.startsWith('/slow')) setTimeout(answer, 300);
    else answer();
  };

  async function openBreaker(proxy, status) {
    for (let i = 0; i < 3; i++) {
      // Wait out the backoff between replacements, so each /fault reaches a live instance.
      await until(async () => (await filterInfo(proxy)).state !== 'degraded', 'the replacement after the backoff');
      const res = await get(proxy, '/fault');
      assert.equal(res.status, status);
    }
    const info = await filterInfo(proxy);
    assert.equal(info.state, 'open');
    assert.equal(info.faults.trap, 3);
    assert.ok(info.retry_at, 'an open breaker says when it retries');
    return info;
  }

  it('fail_closed: opens after max_faults, answers 503 without running the filter, one trial half-open, then closes', T, async () => {
    const upstream = await startUpstream(handler);
    const proxy = await startProxy(faultYaml(upstream, { phase: 'request_headers', breaker }));
    const agent = new Agent({ connections: 8 });
    try {
      // The backoff between replacements grows: the second fault waits before a fresh instance.
      await get(proxy, '/fault');
      await until(async () => (await filterInfo(proxy)).state === 'active', 'the first replacement (at once)');
      await get(proxy, '/fault');
      const degraded = await filterInfo(proxy);
      assert.equal(degraded.state, 'degraded', 'the second fault in the window waits backoff_ms');
      const during = await get(proxy, '/ok');
      assert.equal(during.status, 503, 'fail_closed while the replacement waits');
      await until(async () => (await filterInfo(proxy)).state === 'active', 'the replacement after the backoff', 5000);
      await get(proxy, '/fault');
      const info = await filterInfo(proxy);
      assert.equal(info.state, 'open');
      assert.ok(info.retry_at);
      const openLine = proxy.logs.find((l) => l.state === 'open' && l.retry_at);
      assert.ok(openLine, 'the fault that opened the breaker is logged with the retry time');
      assert.match(openLine.msg, /crash-loop breaker open/);

      const seenBefore = upstream.seen.length;
      const blocked = await get(proxy, '/ok');
      assert.equal(blocked.status, 503);
      assert.equal(blocked.headers['x-outrigger-filter'], 'faulty');
      assert.equal(upstream.seen.length, seenBefore, 'fail_closed: the upstream is not called');
      assert.equal((await filterInfo(proxy)).faults.trap, 3, 'requests refused by the breaker are not faults');

      // After the backoff: one request goes to a fresh instance; the others meanwhile still get 503.
      // Four open connections first (answered 503 by the open breaker), so the burst arrives together.
      const warm = await Promise.all(Array.from({ length: 4 }, () => get(proxy, '/warm', { dispatcher: agent })));
      assert.deepEqual(
        warm.map((r) => r.status),
        [503, 503, 503, 503],
        'still open',
      );
      await sleep(Math.max(0, Date.parse(info.retry_at) - Date.now()) + 50);
      const burst = await Promise.all(Array.from({ length: 4 }, (_, i) => get(proxy, `/slow/${i}`, { dispatcher: agent })));
      const through = burst.filter((r) => r.status === 200);
      assert.equal(through.length, 1, `exactly one trial request (got ${burst.map((r) => r.status)})`);
      assert.equal(through[0].headers['x-fault-seen'], '1', 'the trial ran on a fresh instance');
      assert.ok(proxy.logs.some((l) => l.code === 'OUTRIGGER_FILTER_BREAKER_HALF_OPEN'));
      // Its success closed the breaker.
      const closed = await filterInfo(proxy);
      assert.equal(closed.state, 'active');
      assert.equal(closed.retry_at, null);
      assert.ok(proxy.logs.some((l) => l.code === 'OUTRIGGER_FILTER_BREAKER_CLOSED'));
      const after = await get(proxy, '/ok');
      assert.equal(after.status, 200);
      assert.equal(after.headers['x-fault-seen'], '2');
      assert.equal((await filterInfo(proxy)).live_instances, 1, 'the dead instances are gone');
    } finally {
      await agent.close();
      await proxy.close();
      await upstream.close();
    }
  });

  it('fail_open: an open breaker skips the filter; a failed trial reopens it with a longer wait', T, async () => {
    const upstream = await startUpstream(handler);
    const proxy = await startProxy(faultYaml(upstream, { phase: 'request_headers', breaker, policy: 'fail_open' }));
    try {
      const info = await openBreaker(proxy, 200);
      const firstWait = Date.parse(info.retry_at) - Date.now();
      const skipped = await get(proxy, '/ok');
      assert.equal(skipped.status, 200);
      assert.equal(skipped.headers['x-fault-seen'], undefined, 'the filter did not run');
      await sleep(Math.max(0, firstWait) + 50);
      const trial = await get(proxy, '/fault');
      assert.equal(trial.status, 200, 'fail_open: the failed trial is skipped too');
      const reopened = await filterInfo(proxy);
      assert.equal(reopened.state, 'open');
      assert.equal(reopened.faults.trap, 4);
      const secondWait = Date.parse(reopened.retry_at) - Date.now();
      assert.ok(secondWait > 1000, `the wait doubled after a failed trial (${secondWait} ms)`);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});

describe('unknown imports', () => {
  const yaml = (upstream, strict) => `
upstream: ${upstream.url}
filters_dir: ${FIXTURES}
filters:
  - name: odd
    file: unknown_import.wasm
${strict ? '    strict_imports: true\n' : ''}`;

  it('load with a warning naming them, are listed in /filters, and calling them fails softly', T, async () => {
    const upstream = await startUpstream();
    const proxy = await startProxy(yaml(upstream, false));
    try {
      const want = ['env.mystery_helper', 'env.proxy_not_a_real_call'];
      const warn = proxy.logs.find((l) => l.code === 'OUTRIGGER_WASM_UNKNOWN_IMPORTS');
      assert.ok(warn, 'a warning at load');
      assert.equal(warn.level, 40);
      for (const n of want) assert.match(warn.msg, new RegExp(n.replace('.', '\\.')));
      const info = await filterInfo(proxy, 'odd');
      assert.deepEqual([...info.unknown_imports].sort(), want);
      const res = await get(proxy, '/call-unknown');
      assert.equal(res.status, 200);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });

  it('strict_imports: true rejects the module, naming the imports', T, async () => {
    const upstream = await startUpstream();
    try {
      await assert.rejects(startProxy(yaml(upstream, true)), /proxy_not_a_real_call.*strict_imports|strict_imports.*proxy_not_a_real_call/s);
    } finally {
      await upstream.close();
    }
  });
});

describe('breaker config', () => {
  it('rejects unknown keys and bad values with file, line and key', () => {
    const text = `upstream: http://127.0.0.1:1
breaker:
  max_faults: 0
  window: 5
filters:
  - name: a
    file: a.wasm
    strict_imports: yes-please
    breaker: { backoff_ms: 500, max_backoff_ms: 100 }
`;
    assert.throws(
      () => parseConfig(text, '/tmp/x.yaml', { checkFiles: false }),
      (/** @type {any} */ err) => {
        assert.match(err.message, /x\.yaml:3:\d+: breaker\.max_faults: expected a positive whole number/);
        assert.match(err.message, /x\.yaml:4:\d+: breaker\.window: unknown key; breaker takes max_faults, window_ms, backoff_ms, max_backoff_ms/);
        assert.match(err.message, /filters\[0\]\.strict_imports: expected true or false/);
        assert.match(err.message, /filters\[0\]\.breaker\.max_backoff_ms: max_backoff_ms \(100\) must be at least backoff_ms \(500\)/);
        return true;
      },
    );
  });

  it('a filter breaker overrides the top-level one key by key, over the defaults', () => {
    const cfg = parseConfig(
      `upstream: http://127.0.0.1:1
breaker: { max_faults: 7 }
filters:
  - name: a
    file: a.wasm
    breaker: { backoff_ms: 50 }
  - name: b
    file: b.wasm
`,
      '/tmp/x.yaml',
      { checkFiles: false },
    );
    assert.deepEqual(cfg.filters[0].breaker, { maxFaults: 7, windowMs: 10000, backoffMs: 50, maxBackoffMs: 30000 });
    assert.deepEqual(cfg.filters[1].breaker, { maxFaults: 7, windowMs: 10000, backoffMs: 100, maxBackoffMs: 30000 });
    assert.equal(cfg.filters[1].strictImports, false);
  });
});
