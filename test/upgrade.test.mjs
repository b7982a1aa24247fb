// Issue 12 point 5: upgrades. A WebSocket echo through the proxy (raw sockets and hand-made frames:
// Node 20 has no WebSocket client) with a filter that sees the upgrade request and tags the 101; a
// filter refusing an upgrade; h2c declined and carried as HTTP/1.1.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { FIXTURES, startProxy } from './helpers/proxy.mjs';
import { parseResponses, rawConnection, rawRequest } from './helpers/raw.mjs';

const T = { timeout: 30_000 };
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = createHash('sha1').update(`${KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');

/** One WebSocket text frame; `mask` as a client must. */
function frame(text, mask) {
  const p = Buffer.from(text);
  const head = Buffer.from([0x81, (mask ? 0x80 : 0) | p.length]);
  if (!mask) return Buffer.concat([head, p]);
  const m = Buffer.from([1, 2, 3, 4]);
  return Buffer.concat([head, m, Buffer.from(p.map((b, i) => b ^ m[i % 4]))]);
}

/** Text frames off the front of `buf` (unmasking when masked), and the bytes left over. */
function frames(buf) {
  const out = [];
  let pos = 0;
  while (pos + 2 <= buf.length) {
    const len = buf[pos + 1] & 0x7f;
    const masked = (buf[pos + 1] & 0x80) !== 0;
    const start = pos + 2 + (masked ? 4 : 0);
    if (start + len > buf.length) break;
    const m = masked ? buf.subarray(pos + 2, pos + 6) : null;
    out.push(Buffer.from(buf.subarray(start, start + len).map((b, i) => (m ? b ^ m[i % 4] : b))).toString());
    pos = start + len;
  }
  return { out, rest: buf.subarray(pos) };
}

describe('WebSocket through the proxy', () => {
  const env = {};
  before(async () => {
    env.seen = [];
    env.server = createServer((req, res) => {
      env.seen.push({ method: req.method, url: req.url, headers: req.headers });
      res.end(`plain ${req.url} upgrade=${req.headers.upgrade ?? '-'}`);
    });
    env.sockets = new Set();
    env.server.on('upgrade', (req, socket) => {
      env.sockets.add(socket);
      env.seen.push({ method: req.method, url: req.url, headers: req.headers, upgrade: true });
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${ACCEPT}\r\nx-up: 1\r\n\r\n`);
      let buf = Buffer.alloc(0);
      socket.on('data', (c) => {
        buf = Buffer.concat([buf, c]);
        const f = frames(buf);
        buf = f.rest;
        for (const t of f.out) socket.write(frame(`echo:${t}`, false));
      });
      socket.on('error', () => {});
    });
    await new Promise((r) => env.server.listen(0, '127.0.0.1', () => r(undefined)));
    const url = `http://127.0.0.1:${env.server.address().port}`;
    env.proxy = await startProxy(`upstream: ${url}\nfilters_dir: ${FIXTURES}\nfilters:\n  - name: seen\n    file: seen.wasm\n`, { watch: false });
  });
  after(async () => {
    await env.proxy?.close();
    env.server?.closeAllConnections();
    for (const s of env.sockets ?? []) s.destroy();
    await new Promise((r) => env.server?.close(() => r(undefined)));
  });

  it('echoes frames both ways; the filter saw the upgrade request and tagged the 101', T, async () => {
    const c = await rawConnection(env.proxy.url);
    c.write(
      `GET /chat?room=1 HTTP/1.1\r\nhost: h\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: ${KEY}\r\nsec-websocket-version: 13\r\n\r\n`,
    );
    const head = await c.waitFor((t) => t.includes('\r\n\r\n'));
    const res = parseResponses(head.slice(0, head.indexOf('\r\n\r\n') + 4))[0];
    assert.equal(res.status, 101, head);
    assert.equal(res.headers.upgrade, 'websocket');
    assert.equal(res.headers.connection.toLowerCase(), 'upgrade');
    assert.equal(res.headers['sec-websocket-accept'], ACCEPT);
    assert.equal(res.headers['x-up'], '1');
    assert.equal(res.headers['x-seen-upgrade'], 'websocket', 'the filter saw the Upgrade header');
    assert.equal(res.headers['x-seen-status'], '101', 'the filter saw the 101');
    assert.equal(res.headers['x-seen-path'], '/chat?room=1');
    const up = env.seen.find((s) => s.upgrade);
    assert.equal(up.headers['sec-websocket-key'], KEY);
    assert.equal(up.headers.upgrade, 'websocket');
    c.write(frame('hello', true));
    c.write(frame('again', true));
    const text = await c.waitFor((t) => t.includes('echo:again'));
    const body = Buffer.from(text.slice(text.indexOf('\r\n\r\n') + 4), 'latin1');
    assert.deepEqual(frames(body).out, ['echo:hello', 'echo:again']);
    c.close();
  });

  it('a filter may refuse the upgrade with a local reply; nothing reaches the upstream', T, async () => {
    const before = env.seen.length;
    const r = await rawRequest(
      env.proxy.url,
      `GET /chat HTTP/1.1\r\nhost: h\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: ${KEY}\r\nsec-websocket-version: 13\r\nx-refuse: 1\r\n\r\n`,
      { idleMs: 500 },
    );
    const res = parseResponses(r.text)[0];
    assert.equal(res.status, 403);
    assert.equal(res.body, 'refused by filter\n');
    assert.equal(env.seen.length, before);
  });

  it('h2c is declined: the request goes on as HTTP/1.1 without Upgrade', T, async () => {
    const r = await rawRequest(
      env.proxy.url,
      'GET /h2 HTTP/1.1\r\nhost: h\r\nupgrade: h2c\r\nconnection: Upgrade, HTTP2-Settings\r\nhttp2-settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n',
      {
        idleMs: 500,
      },
    );
    const res = parseResponses(r.text)[0];
    assert.equal(res.status, 200, r.text);
    assert.equal(res.body, 'plain /h2 upgrade=-');
    const last = env.seen[env.seen.length - 1];
    assert.equal(last.upgrade, undefined);
    assert.equal(last.headers['http2-settings'], undefined);
  });
});
