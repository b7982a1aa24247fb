// Trailers end to end over HTTP/1.1 (issue 13, "HTTP/2 and trailers on the data path"): chunked
// request trailers reach the upstream, the upstream's response trailers reach the client, and the
// filters read and write both maps in proxy_on_request_trailers / proxy_on_response_trailers (two
// entries of one fixture show the order). Raw sockets on both ends: the bytes of the trailer
// sections are what is asserted.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FIXTURES, startProxy, tempDir } from './helpers/proxy.mjs';
import { rawRequest, startRecordingUpstream } from './helpers/raw.mjs';

const T = { timeout: 30_000 };

/** The trailer section after the last chunk of a chunked message in `text` (lines, lower-cased names). */
function trailerLines(text) {
  const i = text.lastIndexOf('\r\n0\r\n');
  if (i < 0) return null;
  const end = text.indexOf('\r\n\r\n', i + 3);
  const section = text.slice(i + 5, end < 0 ? undefined : end);
  return section === '' ? [] : section.split('\r\n').map((l) => l.replace(/^([^:]+):\s*/, (_m, k) => `${k.toLowerCase()}: `));
}

function filtersDir() {
  const dir = tempDir();
  mkdirSync(path.join(dir, 'filters'));
  copyFileSync(path.join(FIXTURES, 'trailers.wasm'), path.join(dir, 'filters', 'trailers.wasm'));
  return dir;
}

const TWO = 'filters_dir: ./filters\nfilters:\n  - name: a\n    file: trailers.wasm\n    config: a\n  - name: b\n    file: trailers.wasm\n    config: b\n';

const chunkedPost = (extra, trailers) => `POST /t HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n${extra}\r\n5\r\nhello\r\n0\r\n${trailers}\r\n`;

describe('HTTP/1.1 chunked trailers through the proxy', () => {
  let up;
  let plain;
  let filtered;
  /** What the upstream answers: chunked with a trailer, or content-length (x-cl on the request). */
  const respond = (req) =>
    req.headers['x-cl']
      ? 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nworld'
      : req.headers['x-no-trailers']
        ? 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nworld\r\n0\r\n\r\n'
        : 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-upstream-t\r\n\r\n5\r\nworld\r\n0\r\nx-upstream-t: 1\r\n\r\n';
  before(async () => {
    up = await startRecordingUpstream(respond);
    plain = await startProxy(`upstream: ${up.url}\n`);
    filtered = await startProxy(`upstream: ${up.url}\n${TWO}`, { dir: filtersDir() });
  });
  after(async () => {
    await plain?.close();
    await filtered?.close();
    await up?.close();
  });

  it('without filters: declared request trailers reach the upstream, response trailers the client', T, async () => {
    const before = up.connections.length;
    const { text } = await rawRequest(plain.url, chunkedPost('trailer: x-checksum\r\nconnection: close\r\n', 'x-checksum: abc\r\n'));
    assert.match(text, /^HTTP\/1\.1 200 /, text);
    assert.match(text, /transfer-encoding: chunked/i);
    assert.deepEqual(trailerLines(text), ['x-upstream-t: 1'], text);
    const got = up.connections
      .slice(before)
      .map((c) => Buffer.concat(c.received).toString('latin1'))
      .join('');
    assert.match(got, /\r\ntrailer: x-checksum\r\n/i, got);
    assert.deepEqual(trailerLines(got), ['x-checksum: abc'], got);
  });

  it('filters read and add trailers in both directions, in chain order (request a, b; response b, a)', T, async () => {
    const before = up.connections.length;
    const { text } = await rawRequest(filtered.url, chunkedPost('trailer: x-checksum\r\nconnection: close\r\n', 'x-checksum: abc\r\n'));
    assert.match(text, /^HTTP\/1\.1 200 /, text);
    // The response trailers map is empty before the trailers arrive, and cannot be written then (Envoy): Ok/0/BadArgument.
    assert.match(text, /x-trailers-probe-a: 0\/0\/2\r\n/);
    assert.deepEqual(trailerLines(text), ['x-upstream-t: 1', 'x-seen-resp-trailers: x-upstream-t=1', 'x-trailer-chain: b', 'x-trailer-chain: a'], text);
    const got = up.connections
      .slice(before)
      .map((c) => Buffer.concat(c.received).toString('latin1'))
      .join('');
    assert.deepEqual(trailerLines(got), ['x-checksum: abc', 'x-seen-req-trailers: x-checksum=abc', 'x-trailer-chain: a', 'x-trailer-chain: b'], got);
    assert.equal(filtered.logs.filter((l) => /trailer maps unreadable/.test(l.msg)).length, 0);
  });

  it('a filter stopping its trailers callback holds the request until it continues it', T, async () => {
    const before = up.connections.length;
    const { text } = await rawRequest(filtered.url, chunkedPost('trailer: x-checksum\r\nx-hold-trailers: a\r\nconnection: close\r\n', 'x-checksum: abc\r\n'));
    assert.match(text, /^HTTP\/1\.1 200 /, text);
    const got = up.connections
      .slice(before)
      .map((c) => Buffer.concat(c.received).toString('latin1'))
      .join('');
    // a stopped, the tick added x-released and continued: b ran after it.
    assert.deepEqual(
      trailerLines(got),
      ['x-checksum: abc', 'x-seen-req-trailers: x-checksum=abc', 'x-trailer-chain: a', 'x-released: a', 'x-trailer-chain: b'],
      got,
    );
  });

  it('a filter creates response trailers in its last body callback; the next filter sees them in its trailers callback', T, async () => {
    for (const extra of ['x-no-trailers: 1\r\n', 'x-cl: 1\r\n']) {
      const { text } = await rawRequest(filtered.url, `GET /c HTTP/1.1\r\nhost: a\r\nx-add-resp-trailer: 1\r\n${extra}connection: close\r\n\r\n`);
      assert.match(text, /^HTTP\/1\.1 200 /, text);
      // b runs first on the response: it created them; a saw them in on_response_trailers. The upstream's
      // content-length gave way to chunked framing, where trailers fit.
      assert.match(text, /transfer-encoding: chunked/i, text);
      assert.doesNotMatch(text, /content-length/i);
      assert.deepEqual(trailerLines(text), ['x-created: b', 'x-seen-resp-trailers: x-created=b', 'x-trailer-chain: a'], text);
      assert.match(text, /\r\n5\r\nworld\r\n/);
    }
  });

  it('messages without trailers pass as before: no trailer section, maps read empty in on_log', T, async () => {
    const { text } = await rawRequest(filtered.url, 'POST /n HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\nx-no-trailers: 1\r\nconnection: close\r\n\r\nhi');
    assert.match(text, /^HTTP\/1\.1 200 /, text);
    assert.deepEqual(trailerLines(text) ?? [], [], text);
    assert.equal(filtered.logs.filter((l) => /trailer maps unreadable/.test(l.msg)).length, 0);
  });
});
