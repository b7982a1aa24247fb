// A request-smuggling corpus (issue 12): framing the proxy and an upstream could read differently.
// Each case writes raw bytes on one connection and asserts the statuses the client gets, in order,
// and that nothing rejected reached the upstream (the recording upstream counts what it received,
// byte for byte). `upstream`: the targets the upstream must have received, exactly.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FIXTURES, startProxy } from './helpers/proxy.mjs';
import { parseResponses, rawRequest, startRecordingUpstream } from './helpers/raw.mjs';

const H = 'host: h\r\n';
const OK = 'GET /ok HTTP/1.1\r\nhost: h\r\n\r\n';
const HIDDEN = 'GET /hidden HTTP/1.1\r\nhost: h\r\n\r\n';

// [name, bytes, statuses in order, targets the upstream received]
/** @type {[string, string, number[], string[]][]} */
const CASES = [
  // ---- Content-Length / Transfer-Encoding combinations
  ['CL and TE chunked', `POST /s HTTP/1.1\r\n${H}content-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`, [400], []],
  ['TE chunked and CL', `POST /s HTTP/1.1\r\n${H}transfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n0\r\n\r\n`, [400], []],
  ['two different CLs', `POST /s HTTP/1.1\r\n${H}content-length: 1\r\ncontent-length: 2\r\n\r\nab`, [400], []],
  ['two equal CLs', `POST /s HTTP/1.1\r\n${H}content-length: 2\r\ncontent-length: 2\r\n\r\nab`, [400], []],
  ['CL list "2, 2"', `POST /s HTTP/1.1\r\n${H}content-length: 2, 2\r\n\r\nab`, [400], []],
  ['CL with a plus sign', `POST /s HTTP/1.1\r\n${H}content-length: +2\r\n\r\nab`, [400], []],
  ['CL negative', `POST /s HTTP/1.1\r\n${H}content-length: -2\r\n\r\nab`, [400], []],
  ['CL in hex', `POST /s HTTP/1.1\r\n${H}content-length: 0x2\r\n\r\nab`, [400], []],
  ['CL not a number', `POST /s HTTP/1.1\r\n${H}content-length: ab\r\n\r\nab`, [400], []],
  ['CL with a space inside', `POST /s HTTP/1.1\r\n${H}content-length: 1 2\r\n\r\nab`, [400], []],
  ['CL overflowing 64 bits', `POST /s HTTP/1.1\r\n${H}content-length: 99999999999999999999999\r\n\r\nab`, [400], []],
  ['TE chunked twice', `POST /s HTTP/1.1\r\n${H}transfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`, [400], []],
  ['TE "chunked, identity" (chunked not last)', `POST /s HTTP/1.1\r\n${H}transfer-encoding: chunked, identity\r\n\r\n0\r\n\r\n`, [400], []],
  ['TE "identity" alone', `POST /s HTTP/1.1\r\n${H}transfer-encoding: identity\r\n\r\n0\r\n\r\n`, [400], []],
  ['TE "xchunked"', `POST /s HTTP/1.1\r\n${H}transfer-encoding: xchunked\r\n\r\n0\r\n\r\n`, [400], []],
  ['TE with a vertical tab', `POST /s HTTP/1.1\r\n${H}transfer-encoding: chunked\x0b\r\n\r\n0\r\n\r\n`, [400], []],
  ['TE on HTTP/1.0 with CL', `POST /s HTTP/1.0\r\n${H}transfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n`, [400], []],
  // ---- malformed header syntax around the framing headers
  ['space before the colon of TE', `POST /s HTTP/1.1\r\n${H}transfer-encoding : chunked\r\n\r\n0\r\n\r\n`, [400], []],
  ['space before the colon of CL', `POST /s HTTP/1.1\r\n${H}content-length : 2\r\n\r\nab`, [400], []],
  ['header name with a space', `GET /s HTTP/1.1\r\n${H}x y: z\r\n\r\n`, [400], []],
  ['header name with "@"', `GET /s HTTP/1.1\r\n${H}x@y: z\r\n\r\n`, [400], []],
  ['header without a colon', `GET /s HTTP/1.1\r\n${H}just-a-name\r\n\r\n`, [400], []],
  ['NUL in a header value', `GET /s HTTP/1.1\r\n${H}x: a\x00b\r\n\r\n`, [400], []],
  // ---- obs-fold, bare CR and LF
  ['obs-fold of a plain header', `GET /s HTTP/1.1\r\n${H}x: a\r\n b\r\n\r\n`, [400], []],
  ['obs-fold continuing TE', `POST /s HTTP/1.1\r\n${H}transfer-encoding: identity\r\n chunked\r\n\r\n0\r\n\r\n`, [400], []],
  ['obs-fold with a tab', `GET /s HTTP/1.1\r\n${H}x: a\r\n\tb\r\n\r\n`, [400], []],
  ['bare CR in a header value', `GET /s HTTP/1.1\r\n${H}x: a\rb\r\n\r\n`, [400], []],
  ['bare CR ending a header line', `GET /s HTTP/1.1\r\n${H}x: a\rcontent-length: 2\r\n\r\nab`, [400], []],
  ['bare LF ending a header line', `GET /s HTTP/1.1\r\n${H}x: a\ncontent-length: 2\r\n\r\nab`, [400], []],
  ['bare LF in the request line', 'GET /s HTTP/1.1\nhost: h\r\n\r\n', [400], []],
  // ---- chunk size and chunk extension abuse
  ['chunk size not hex', `POST /s HTTP/1.1\r\n${H}transfer-encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n`, [400], []],
  ['chunk size overflowing 64 bits', `POST /s HTTP/1.1\r\n${H}transfer-encoding: chunked\r\n\r\nfffffffffffffffff1\r\nab\r\n0\r\n\r\n`, [400], []],
  ['chunk size negative', `POST /s HTTP/1.1\r\n${H}transfer-encoding: chunked\r\n\r\n-2\r\nab\r\n0\r\n\r\n`, [400], []],
  ['chunk size with a 0x prefix', `POST /s HTTP/1.1\r\n${H}transfer-encoding: chunked\r\n\r\n0x2\r\nab\r\n0\r\n\r\n`, [400], []],
  ['chunk data longer than its size', `POST /s HTTP/1.1\r\n${H}transfer-encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n`, [400], []],
  ['chunk size ending in a bare LF', `POST /s HTTP/1.1\r\n${H}transfer-encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n`, [400], []],
  ['chunk extension with a bare LF', `POST /s HTTP/1.1\r\n${H}transfer-encoding: chunked\r\n\r\n2;x\ny\r\nab\r\n0\r\n\r\n`, [400], []],
  ['chunk extension with NUL', `POST /s HTTP/1.1\r\n${H}transfer-encoding: chunked\r\n\r\n2;x=\x00\r\nab\r\n0\r\n\r\n`, [400], []],
  ['chunk extensions without end (20 KiB)', `POST /s HTTP/1.1\r\n${H}transfer-encoding: chunked\r\n\r\n2;${'x'.repeat(20_000)}\r\nab\r\n0\r\n\r\n`, [413], []],
  // ---- request line
  // node's parser takes repeated spaces; harmless here since the request is re-serialized upstream.
  ['two spaces in the request line (re-serialized)', 'GET  /s HTTP/1.1\r\nhost: h\r\n\r\n', [200], ['/s']],
  ['a space in the target', 'GET /a b HTTP/1.1\r\nhost: h\r\n\r\n', [400], []],
  ['an unknown HTTP version', 'GET /s HTTP/1.7\r\nhost: h\r\n\r\n', [400], []],
  ['a lower-case method', 'get /s HTTP/1.1\r\nhost: h\r\n\r\n', [400], []],
  ['HTTP/1.1 without Host', 'GET /s HTTP/1.1\r\n\r\n', [400], []],
  // ---- absolute forms, Host conflicts
  ['absolute form and two Hosts', 'GET http://a/s HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n', [400], []],
  ['absolute form with user info', 'GET http://x@a/s HTTP/1.1\r\nhost: a\r\n\r\n', [400], []],
  ['absolute form with an empty authority', 'GET http:///s HTTP/1.1\r\nhost: a\r\n\r\n', [400], []],
  ['Host with a comma (two hosts in one)', 'GET /s HTTP/1.1\r\nhost: a, b\r\n\r\n', [400], []],
  ['Host with a path', 'GET /s HTTP/1.1\r\nhost: a/../b\r\n\r\n', [400], []],
  ['absolute form is carried in origin form', 'GET http://a/s/../t HTTP/1.1\r\nhost: b\r\n\r\n', [200], ['/t']],
  // ---- encoded paths
  ['encoded dot segments above the root', 'GET /%2e%2e/s HTTP/1.1\r\nhost: h\r\n\r\n', [400], []],
  ['mixed-case encoded dots above the root', 'GET /a/%2E./%2e%2E/s HTTP/1.1\r\nhost: h\r\n\r\n', [400], []],
  ['a truncated percent-encoding', 'GET /s%2 HTTP/1.1\r\nhost: h\r\n\r\n', [400], []],
  ['double encoding stays encoded', 'GET /%252e%252e/s HTTP/1.1\r\nhost: h\r\n\r\n', [200], ['/%252e%252e/s']],
  ['an encoded slash is kept', 'GET /a%2fb HTTP/1.1\r\nhost: h\r\n\r\n', [200], ['/a%2Fb']],
  ['a fragment in the target', 'GET /s#frag HTTP/1.1\r\nhost: h\r\n\r\n', [400], []],
  // ---- pipelined mixes: the valid request's response first, nothing after the bad one goes up.
  ['valid, then CL+TE', `${OK}POST /s HTTP/1.1\r\n${H}content-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n${OK}`, [200, 400], ['/ok']],
  ['valid, then obs-fold', `${OK}GET /s HTTP/1.1\r\n${H}x: a\r\n b\r\n\r\n${OK}`, [200, 400], ['/ok']],
  ['valid, then two Hosts', `${OK}GET /s HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n${OK}`, [200, 400], ['/ok']],
  ['a request hidden in a CL body stays body', `POST /s HTTP/1.1\r\n${H}content-length: ${HIDDEN.length}\r\n\r\n${HIDDEN}`, [200], ['/s']],
  ['a request after the last chunk is the next request', `POST /s HTTP/1.1\r\n${H}transfer-encoding: chunked\r\n\r\n0\r\n\r\n${OK}`, [200, 200], ['/s', '/ok']],
  [
    'chunked, then a request line in a chunk is body',
    `POST /s HTTP/1.1\r\n${H}transfer-encoding: chunked\r\n\r\n${HIDDEN.length.toString(16)}\r\n${HIDDEN}\r\n0\r\n\r\n`,
    [200],
    ['/s'],
  ],
];

describe('request-smuggling corpus', () => {
  const env = {};
  before(async () => {
    env.upstream = await startRecordingUpstream();
    env.proxy = await startProxy(`upstream: ${env.upstream.url}\nfilters_dir: ${FIXTURES}\nfilters: []\n`, { watch: false });
  });
  after(async () => {
    await env.proxy?.close();
    await env.upstream?.close();
  });

  it(`holds at least 40 cases (${CASES.length})`, () => assert.ok(CASES.length >= 40));

  for (const [name, bytes, statuses, targets] of CASES)
    it(name, { timeout: 20_000 }, async () => {
      const before = env.upstream.requests.length;
      const r = await rawRequest(env.proxy.url, bytes, { idleMs: 400 });
      const got = parseResponses(r.text).map((x) => x.status);
      assert.deepEqual(got, statuses, `responses: ${JSON.stringify(r.text.slice(0, 400))}`);
      const reached = env.upstream.requests.slice(before).map((x) => x.target);
      assert.deepEqual(reached, targets, 'what reached the upstream');
    });
});
