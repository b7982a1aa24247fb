// The front door (issue 12, points 1, 2, 4, 6, 9): client timeouts and a bounded upstream pool,
// one request at a time per connection, Expect: 100-continue, upstream response framing, one retry
// of a keep-alive race, error bodies in Outrigger's words, and readiness. Raw bytes on sockets both
// sides: what the client gets and what the upstream received.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FILTERS, startProxy, tempDir } from './helpers/proxy.mjs';
import { parseResponses, rawConnection, rawRequest, startRecordingUpstream } from './helpers/raw.mjs';
import { until } from './helpers/wait.mjs';

const T = { timeout: 30_000 };
const GET = (p, extra = '') => `GET ${p} HTTP/1.1\r\nhost: a\r\n${extra}\r\n`;

describe('Expect: 100-continue', () => {
  let up;
  let proxy;
  before(async () => {
    up = await startRecordingUpstream((req) => `HTTP/1.1 200 OK\r\ncontent-length: ${String(req.body.length).length}\r\n\r\n${req.body.length}`);
    proxy = await startProxy(`upstream: ${up.url}\n`);
  });
  after(async () => {
    await proxy?.close();
    await up?.close();
  });

  it('answers 100 Continue, then the 2 MiB body reaches the upstream without the expect header', T, async () => {
    const body = Buffer.alloc(2 * 1024 * 1024, 0x61);
    const c = await rawConnection(proxy.url);
    c.write(`POST /up HTTP/1.1\r\nhost: a\r\ncontent-length: ${body.length}\r\nexpect: 100-continue\r\n\r\n`);
    await c.waitFor((t) => t.includes('100 Continue'));
    c.write(body);
    const text = await c.waitFor((t) => t.includes(`\r\n\r\n${body.length}`));
    c.close();
    const [cont, final] = parseResponses(text);
    assert.equal(cont.status, 100);
    assert.equal(final.status, 200, text.slice(0, 300));
    assert.equal(final.body, String(body.length));
    const r = up.requests.at(-1);
    assert.equal(r.body.length, body.length);
    assert.equal(r.headers.expect, undefined, 'expect is not forwarded');
  });

  it('plain curl --data-binary of 2 MiB succeeds', T, async () => {
    const dir = tempDir();
    const file = path.join(dir, '2mb.bin');
    writeFileSync(file, Buffer.alloc(2 * 1024 * 1024, 0x62));
    const out = await new Promise((resolve) => {
      execFile('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', '--data-binary', `@${file}`, `${proxy.url}/curl`], (err, stdout, stderr) =>
        resolve({ err, stdout, stderr }),
      );
    });
    if (out.err?.code === 'ENOENT') return; // no curl on this machine: the raw-socket test above covers it
    assert.equal(out.stdout.trim().split('\n').at(-1), '200', out.stdout + out.stderr);
    assert.equal(up.requests.at(-1).body.length, 2 * 1024 * 1024);
  });
});

describe('upstream response framing and errors', () => {
  let up;
  let proxy;
  before(async () => {
    up = await startRecordingUpstream((req) => {
      if (req.target === '/204') return 'HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n';
      if (req.target === '/304') return 'HTTP/1.1 304 Not Modified\r\ncontent-length: 5\r\netag: "x"\r\n\r\n';
      if (req.target === '/103') return 'HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';
      if (req.target === '/bad') return 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\nbad header line\r\n\r\nabc';
      return 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';
    });
    proxy = await startProxy(`upstream: ${up.url}\n`);
  });
  after(async () => {
    await proxy?.close();
    await up?.close();
  });

  it('204 goes out without content-length, and the next response on the connection is intact', T, async () => {
    const { text } = await rawRequest(proxy.url, GET('/204') + GET('/ok'), { until: (t) => t.endsWith('ok') });
    const [r204, ok] = parseResponses(text);
    assert.equal(r204.status, 204);
    assert.equal(r204.headers['content-length'], undefined, text);
    assert.equal(r204.headers['transfer-encoding'], undefined, text);
    assert.equal(ok.status, 200);
    assert.equal(ok.body, 'ok');
  });

  it('304 keeps the resource content-length, has no body and no transfer-encoding', T, async () => {
    const { text } = await rawRequest(proxy.url, GET('/304') + GET('/ok'), { until: (t) => t.endsWith('ok') });
    const [r304, ok] = parseResponses(text);
    assert.equal(r304.status, 304);
    assert.equal(r304.headers['transfer-encoding'], undefined);
    assert.equal(r304.headers.etag, '"x"');
    assert.equal(ok.status, 200, text);
  });

  it('an interim 103 is not passed on as the response; the final one is', T, async () => {
    const { text } = await rawRequest(proxy.url, GET('/103'), { until: (t) => t.endsWith('ok') });
    const rs = parseResponses(text).filter((r) => r.status >= 200);
    assert.equal(rs.length, 1, text);
    assert.equal(rs[0].status, 200);
  });

  it("a malformed upstream response: 502 in Outrigger's words, the parser's text only in the log", T, async () => {
    const { text } = await rawRequest(proxy.url, GET('/bad'), { until: (t) => t.includes('\n', t.indexOf('\r\n\r\n') + 4) });
    const [r] = parseResponses(text);
    assert.equal(r.status, 502, text);
    assert.equal(r.headers['x-outrigger-error'], 'OUTRIGGER_UPSTREAM_UNAVAILABLE');
    assert.match(r.body, /OUTRIGGER_UPSTREAM_UNAVAILABLE/);
    assert.doesNotMatch(r.body, /HPE_|UND_ERR|undici|Parse Error/i);
    const line = proxy.logs.find((l) => l.code === 'OUTRIGGER_UPSTREAM_UNAVAILABLE');
    assert.ok(line?.detail, 'the log keeps the library detail');
  });
});

describe('keep-alive race: the upstream closes a reused connection as the next request arrives', () => {
  let up;
  let proxy;
  let posts = 0;
  before(async () => {
    // Each connection answers its first request (keep-alive) and drops the next without a byte.
    up = await startRecordingUpstream((req, conn) => {
      if (req.method === 'POST') posts++;
      if (conn.requests.length > 1) {
        conn.socket.destroy();
        return null;
      }
      return `HTTP/1.1 200 OK\r\ncontent-length: ${req.target.length}\r\n\r\n${req.target}`;
    });
    proxy = await startProxy(`upstream: ${up.url}\n`);
  });
  after(async () => {
    await proxy?.close();
    await up?.close();
  });

  it('100 sequential GETs: 0 failures (each retried once on a new connection)', T, async () => {
    let failed = 0;
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${proxy.url}/g${i}`);
      if (res.status !== 200 || (await res.text()) !== `/g${i}`) failed++;
    }
    assert.equal(failed, 0);
    assert.ok(up.connections.length > 50, 'the upstream really dropped reused connections');
  });

  it('a POST is not retried: it gets 502', T, async () => {
    await fetch(`${proxy.url}/warm`).then((r) => r.text());
    const before = posts;
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${proxy.url}/p`, { method: 'POST', body: 'x' });
      await r.text();
      statuses.push(r.status);
    }
    assert.ok(statuses.includes(502), `some POST met a dropped connection: ${statuses}`);
    assert.equal(posts - before, 4, 'each POST reached the upstream exactly once');
  });

  it('an upstream that closes each connection right after its response: 0 failed GETs', T, async () => {
    const closer = await startRecordingUpstream((_req, conn) => {
      setImmediate(() => conn.socket.end());
      return `HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok`;
    });
    const p = await startProxy(`upstream: ${closer.url}\n`);
    try {
      let failed = 0;
      for (let round = 0; round < 20; round++) {
        const rs = await Promise.all(Array.from({ length: 10 }, () => fetch(`${p.url}/c`).then(async (r) => r.status === 200 && (await r.text()) === 'ok')));
        failed += rs.filter((ok) => !ok).length;
      }
      assert.equal(failed, 0);
    } finally {
      await p.close();
      await closer.close();
    }
  });
});

describe('one request at a time per connection', () => {
  let up;
  let proxy;
  let active = 0;
  let maxActive = 0;
  before(async () => {
    up = await startRecordingUpstream((req, conn) => {
      active++;
      maxActive = Math.max(maxActive, active);
      setTimeout(() => {
        active--;
        conn.socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${req.target.length}\r\n\r\n${req.target}`);
      }, 5);
      return null;
    });
    proxy = await startProxy(`upstream: ${up.url}\n`);
  });
  after(async () => {
    await proxy?.close();
    await up?.close();
  });

  it('30 pipelined GETs: answered in order, never more than one upstream at a time', T, async () => {
    const n = 30;
    const bytes = Array.from({ length: n }, (_, i) => GET(`/p${i}`)).join('');
    const { text } = await rawRequest(proxy.url, bytes, { until: (t) => t.endsWith(`/p${n - 1}`) });
    const rs = parseResponses(text);
    assert.deepEqual(
      rs.map((r) => r.body),
      Array.from({ length: n }, (_, i) => `/p${i}`),
    );
    assert.equal(maxActive, 1);
  });

  it('a malformed request after a valid one: the valid response first, then 400', T, async () => {
    const { text } = await rawRequest(proxy.url, `${GET('/first')}GARBAGE\r\n\r\n`, { until: (t) => t.includes('400 Bad Request') });
    const rs = parseResponses(text);
    assert.equal(rs[0].status, 200, text);
    assert.equal(rs[0].body, '/first');
    assert.equal(rs[1].status, 400, text);
    assert.ok(!up.requests.some((r) => r.target.includes('GARBAGE')));
  });
});

describe('client timeouts', () => {
  let up;
  let proxy;
  before(async () => {
    up = await startRecordingUpstream();
    proxy = await startProxy(`upstream: ${up.url}\nclient_header_timeout_ms: 400\nclient_body_timeout_ms: 400\nkeepalive_timeout_ms: 400\n`);
  });
  after(async () => {
    await proxy?.close();
    await up?.close();
  });

  it('a request head not complete in time gets 408 and the connection closes; nothing reaches the upstream', T, async () => {
    const before = up.requests.length;
    const c = await rawConnection(proxy.url);
    c.write('GET /slow HTTP/1.1\r\nhost: a\r\nx-a: 1\r\n');
    const text = await c.waitFor((_t, closed) => closed, 10_000);
    assert.match(text, /^HTTP\/1\.1 408 /);
    assert.match(text, /OUTRIGGER_CLIENT_TIMEOUT/);
    assert.equal(up.requests.length, before);
  });

  it('a body idle too long: 408, the upstream request aborted, the connection closed', T, async () => {
    const c = await rawConnection(proxy.url);
    c.write('POST /stall HTTP/1.1\r\nhost: a\r\ncontent-length: 100\r\n\r\n0123456789');
    const text = await c.waitFor((_t, closed) => closed, 10_000);
    assert.match(text, /^HTTP\/1\.1 408 /, text);
    assert.ok(!up.requests.some((r) => r.target === '/stall'), 'the upstream never got a complete request');
    await until(
      () => up.connections.every((cn) => cn.socket.destroyed || Buffer.concat(cn.received).toString().includes('/stall') === false || cn.socket.readableEnded),
      'upstream side closed',
    );
  });

  it('an idle keep-alive connection is closed after keepalive_timeout_ms', T, async () => {
    const c = await rawConnection(proxy.url);
    c.write(GET('/ka'));
    await c.waitFor((t) => t.endsWith('GET /ka'));
    const t0 = Date.now();
    await c.waitFor((_t, closed) => closed, 10_000);
    assert.ok(Date.now() - t0 >= 300, 'not before the timeout');
  });
});

describe('bounded upstream pool', () => {
  it('a request waiting longer than upstream_queue_timeout_ms for a connection gets 503 OUTRIGGER_UPSTREAM_OVERLOADED', T, async () => {
    const held = [];
    const up = await startRecordingUpstream((req, conn) => {
      if (req.target === '/hold') held.push(conn);
      else return 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';
      return null;
    });
    const proxy = await startProxy(`upstream: ${up.url}\nupstream_max_connections: 2\nupstream_queue_timeout_ms: 300\n`);
    try {
      const holds = [fetch(`${proxy.url}/hold`), fetch(`${proxy.url}/hold`)];
      await until(() => held.length === 2, 'two held requests');
      const res = await fetch(`${proxy.url}/next`);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('x-outrigger-error'), 'OUTRIGGER_UPSTREAM_OVERLOADED');
      assert.match(await res.text(), /OUTRIGGER_UPSTREAM_OVERLOADED/);
      for (const c of held) c.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nh');
      for (const h of await Promise.all(holds)) assert.equal(h.status, 200);
      assert.equal((await fetch(`${proxy.url}/after`)).status, 200, 'serving again once connections free up');
      assert.ok(!up.requests.some((r) => r.target === '/next'), 'the timed-out request never went upstream');
    } finally {
      await proxy.close();
      await up.close();
    }
  });

  it('200 stalled uploads do not delay a GET by more than a second', T, async () => {
    const up = await startRecordingUpstream();
    const proxy = await startProxy(`upstream: ${up.url}\ndrain_timeout_ms: 1000\n`);
    const socks = [];
    try {
      const { port } = new URL(proxy.url);
      await Promise.all(
        Array.from(
          { length: 200 },
          () =>
            new Promise((resolve) => {
              const s = connect(Number(port), '127.0.0.1', () => {
                s.write('POST /upload HTTP/1.1\r\nhost: a\r\ncontent-length: 1000000\r\n\r\nhalf of it...');
                resolve();
              });
              s.on('error', () => {});
              socks.push(s);
            }),
        ),
      );
      await until(() => up.connections.length >= 150, 'the uploads reaching the upstream', 10_000);
      const t0 = Date.now();
      const res = await fetch(`${proxy.url}/quick`);
      const ms = Date.now() - t0;
      assert.equal(res.status, 200);
      // The GET's own time on this (busy, shared) machine, measured right after, is not "delay".
      const t1 = Date.now();
      await (await fetch(`${proxy.url}/quick`)).text();
      const base = Date.now() - t1;
      assert.ok(ms - base < 1000, `GET took ${ms} ms (a GET alone ${base} ms)`);
    } finally {
      for (const s of socks) s.destroy();
      await proxy.close();
      await up.close();
    }
  });
});

describe('readiness', () => {
  it('/readyz is 503 with the reason while a listed filter is missing and while draining; /healthz stays 200', T, async () => {
    const dir = tempDir();
    const fdir = path.join(dir, 'filters');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(fdir);
    copyFileSync(path.join(FILTERS, 'add_header.wasm'), path.join(fdir, 'add_header.wasm'));
    const held = [];
    const up = await startRecordingUpstream((req, conn) => {
      if (req.target === '/hold') {
        held.push(conn);
        return null;
      }
      return 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';
    });
    const proxy = await startProxy(
      `upstream: ${up.url}\nfilters_dir: ./filters\nfilters:\n  - name: hdr\n    file: add_header.wasm\n    config: { header: x-a, value: b }\n`,
      { dir },
    );
    try {
      let r = await fetch(`${proxy.admin}/readyz`);
      assert.equal(r.status, 200, await r.text());
      rmSync(path.join(fdir, 'add_header.wasm'));
      await proxy.running.reload();
      r = await fetch(`${proxy.admin}/readyz`);
      const body = await r.json();
      assert.equal(r.status, 503);
      assert.ok(
        body.problems.some((p) => /filter hdr missing/.test(p)),
        JSON.stringify(body),
      );
      copyFileSync(path.join(FILTERS, 'add_header.wasm'), path.join(fdir, 'add_header.wasm'));
      await proxy.running.reload();
      assert.equal((await fetch(`${proxy.admin}/readyz`)).status, 200);

      const inflight = fetch(`${proxy.url}/hold`);
      await until(() => held.length === 1, 'the held request');
      const closing = proxy.close();
      r = await fetch(`${proxy.admin}/readyz`);
      const b2 = await r.json();
      assert.equal(r.status, 503);
      assert.ok(
        b2.problems.some((p) => /draining/.test(p)),
        JSON.stringify(b2),
      );
      assert.equal((await fetch(`${proxy.admin}/healthz`)).status, 200);
      held[0].socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nh');
      assert.equal((await inflight).status, 200);
      await closing;
    } finally {
      await proxy.close();
      await up.close();
    }
  });
});
