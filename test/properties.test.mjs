// Property paths and values (host/abi/properties.ts): how guest paths split, and what each Envoy
// attribute returns for a real HttpStream (strings raw, integers 8-byte LE, maps in the pair layout).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePairs } from '../dist/host/abi/pairs.js';
import { getProperty, propertyPathParts, splitPropertyPath } from '../dist/host/abi/properties.js';
import { HeaderMap } from '../dist/host/chain/header-map.js';
import { HttpStream } from '../dist/host/chain/http-stream.js';

// getProperty reads only the plugin's spec from the instance.
/** The part of a WasmVm that properties read (the plugin's names). @type {any} */
const vm = { spec: { name: 'my-filter', rootId: 'root-1', vmId: 'vm-1' } };

function stream() {
  const s = new HttpStream(
    'req-1',
    new HeaderMap([':method', 'GET', ':path', '/a/b?x=1&y=2', ':authority', 'example.test', ':scheme', 'http', 'user-agent', 'ua/1', 'x.dotted', 'd']),
    {
      sourceAddress: '::1',
      sourcePort: 40000,
      destinationAddress: '127.0.0.1',
      destinationPort: 8080,
      protocol: 'HTTP/1.1',
      scheme: 'http',
    },
  );
  return s;
}

const text = (v) => (typeof v === 'string' ? v : v?.toString('latin1'));
const int = (v) => (Buffer.isBuffer(v) && v.length === 8 ? v.readBigInt64LE(0) : v);

describe('property paths', { timeout: 20_000 }, () => {
  it('split on NUL (trailing NUL allowed), else on dots', () => {
    assert.deepEqual(splitPropertyPath('request\0path\0'), ['request', 'path']);
    assert.deepEqual(splitPropertyPath('request\0headers\0x.y'), ['request', 'headers', 'x.y']);
    assert.deepEqual(splitPropertyPath('request.path'), ['request', 'path']);
    assert.deepEqual(splitPropertyPath('plugin_name'), ['plugin_name']);
    assert.deepEqual(splitPropertyPath(''), ['']);
    assert.deepEqual(splitPropertyPath('\0'), ['']);
    assert.deepEqual(splitPropertyPath('a\0\0b'), ['a', '', 'b']);
  });

  it('keep dots inside a header name given with dots', () => {
    assert.deepEqual(splitPropertyPath('request.headers.x.dotted'), ['request', 'headers', 'x.dotted']);
    assert.deepEqual(splitPropertyPath('response.trailers.a.b.c'), ['response', 'trailers', 'a.b.c']);
    assert.deepEqual(splitPropertyPath('source.address.extra'), ['source', 'address', 'extra']);
  });

  it('memoizes without changing the answer', () => {
    const a = propertyPathParts('request.headers.user-agent');
    assert.deepEqual(a, ['request', 'headers', 'user-agent']);
    assert.equal(propertyPathParts('request.headers.user-agent'), a, 'the same array from the cache');
    for (let i = 0; i < 3000; i++) assert.deepEqual(propertyPathParts(`request.n${i}`), ['request', `n${i}`]);
  });
});

describe('property values', { timeout: 20_000 }, () => {
  it('request attributes', () => {
    const s = stream();
    const get = (p) => getProperty(vm, s, splitPropertyPath(p));
    assert.equal(text(get('request.path')), '/a/b?x=1&y=2');
    assert.equal(text(get('request.url_path')), '/a/b');
    assert.equal(text(get('request.query')), 'x=1&y=2');
    assert.equal(text(get('request.host')), 'example.test');
    assert.equal(text(get('request.method')), 'GET');
    assert.equal(text(get('request.scheme')), 'http');
    assert.equal(text(get('request.protocol')), 'HTTP/1.1');
    assert.equal(text(get('request.id')), 'req-1');
    assert.equal(text(get('request.useragent')), 'ua/1');
    assert.equal(get('request.referer'), undefined);
    assert.equal(text(get('request.headers.x.dotted')), 'd');
    assert.equal(text(get('request.headers.USER-AGENT')), 'ua/1', 'header names are matched lower-cased');
    assert.deepEqual(parsePairs(/** @type {Buffer} */ (get('request.headers'))), s.requestHeaders.flat);
    assert.equal(int(get('request.time')), BigInt(s.startTimeMs) * 1_000_000n);
    assert.ok(int(get('request.duration')) >= 0n);
    assert.equal(get('request.nothing'), undefined);
    s.requestHeaders.add('x-request-id', 'from-client');
    assert.equal(text(get('request.id')), 'from-client');
  });

  it('response, connection and plugin attributes', () => {
    const s = stream();
    const get = (p) => getProperty(vm, s, splitPropertyPath(p));
    assert.equal(get('response.code'), undefined, 'no response yet');
    assert.equal(get('response.headers'), undefined);
    s.responseCode = 201;
    s.responseHeaders = new HeaderMap(['content-type', 'text/plain']);
    assert.equal(int(get('response.code')), 201n);
    assert.equal(text(get('response.headers.content-type')), 'text/plain');
    assert.deepEqual(parsePairs(/** @type {Buffer} */ (get('response.headers'))), ['content-type', 'text/plain']);
    assert.equal(text(get('source.address')), '[::1]:40000');
    assert.equal(int(get('source.port')), 40000n);
    assert.equal(text(get('destination.address')), '127.0.0.1:8080');
    assert.equal(int(get('destination.port')), 8080n);
    assert.equal(get('source.other'), undefined);
    assert.equal(text(get('plugin_name')), 'my-filter');
    assert.equal(text(get('plugin_root_id')), 'root-1');
    assert.equal(text(get('plugin_vm_id')), 'vm-1');
    assert.equal(get('nothing.at.all'), undefined);
    assert.equal(get(''), undefined);
  });

  it('without a stream only plugin attributes exist', () => {
    assert.equal(getProperty(vm, null, ['request', 'path']), undefined);
    assert.equal(text(getProperty(vm, null, ['plugin_name'])), 'my-filter');
  });

  it('filter state set by a filter is read back under its dotted name', () => {
    const s = stream();
    s.filterState = new Map([['my.key', Buffer.from('v')]]);
    assert.equal(text(getProperty(vm, s, splitPropertyPath('my\0key'))), 'v');
    assert.equal(text(getProperty(vm, s, splitPropertyPath('my.key'))), 'v');
  });
});
