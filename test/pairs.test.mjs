// The proxy-wasm pair layout (host/abi/pairs.ts): round trips, and every malformed shape rejected.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePairs, serializePairs } from '../dist/host/abi/pairs.js';
import { MAX_PAIRS_BYTES, MAX_PAIRS_COUNT } from '../dist/host/limits.js';

/** Builds a map by hand, with full control over counts, lengths and terminators. */
function raw(count, entries, { tail = [] } = {}) {
  const lens = Buffer.alloc(4 + entries.length * 8);
  lens.writeUInt32LE(count, 0);
  const data = [];
  entries.forEach(([k, v, kl = k.length, vl = v.length, kn = 0, vn = 0], i) => {
    lens.writeUInt32LE(kl, 4 + i * 8);
    lens.writeUInt32LE(vl, 8 + i * 8);
    data.push(Buffer.from(k, 'latin1'), Buffer.from([kn]), Buffer.from(v, 'latin1'), Buffer.from([vn]));
  });
  return Buffer.concat([lens, ...data, Buffer.from(tail)]);
}

describe('pairs', { timeout: 20_000 }, () => {
  it('round-trips maps, duplicates, empty keys and values, and latin1 octets', () => {
    const cases = [[], ['a', 'b'], [':path', '/x?y=1', 'set-cookie', 'a=1', 'set-cookie', 'b=2'], ['', '', 'k', ''], ['x-bin', '\u00ff\u0080\u0001 tab\t']];
    for (const flat of cases) {
      const bytes = serializePairs(flat);
      assert.deepEqual(parsePairs(bytes), flat);
      assert.deepEqual(parsePairs(new Uint8Array(bytes)), flat, 'a Uint8Array view parses the same');
    }
  });

  it('serializes exactly the documented layout', () => {
    const b = serializePairs(['ab', 'c']);
    assert.deepEqual([...b], [1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0x61, 0x62, 0, 0x63, 0]);
    assert.deepEqual([...serializePairs([])], [0, 0, 0, 0]);
  });

  it('parses a view at an offset inside a larger buffer', () => {
    const inner = serializePairs(['k', 'v']);
    const outer = Buffer.concat([Buffer.from([9, 9, 9]), inner, Buffer.from([7])]);
    assert.deepEqual(parsePairs(outer.subarray(3, 3 + inner.length)), ['k', 'v']);
  });

  it('treats an empty input as an empty map and a count of 0 as empty', () => {
    assert.deepEqual(parsePairs(new Uint8Array(0)), []);
    assert.deepEqual(parsePairs(raw(0, [])), []);
  });

  it('rejects every malformed shape with null', () => {
    const ok = raw(1, [['k', 'v']]);
    assert.deepEqual(parsePairs(ok), ['k', 'v']);
    const bad = {
      'shorter than the count': Buffer.from([1, 0, 0]),
      'count larger than the entries': raw(2, [['k', 'v']]),
      'count smaller than the entries (trailing bytes)': raw(1, [
        ['k', 'v'],
        ['k2', 'v2'],
      ]),
      'trailing garbage': raw(1, [['k', 'v']], { tail: [1] }),
      'key not NUL-terminated': raw(1, [['k', 'v', 1, 1, 0x41]]),
      'value not NUL-terminated': raw(1, [['k', 'v', 1, 1, 0, 0x41]]),
      'key length past the end': raw(1, [['k', 'v', 100]]),
      'value length past the end': raw(1, [['k', 'v', 1, 0xffffffff]]),
      'key length 2^32-1': raw(1, [['k', 'v', 0xffffffff, 1]]),
      'count 2^32-1': raw(0xffffffff, [['k', 'v']]),
      'count over MAX_PAIRS_COUNT': raw(MAX_PAIRS_COUNT + 1, []),
      'lengths table past the end': (() => {
        const b = Buffer.alloc(12);
        b.writeUInt32LE(5, 0);
        return b;
      })(),
    };
    for (const [what, bytes] of Object.entries(bad)) assert.equal(parsePairs(bytes), null, what);
  });

  it('accepts MAX_PAIRS_COUNT entries and rejects more than MAX_PAIRS_BYTES', () => {
    const flat = [];
    for (let i = 0; i < MAX_PAIRS_COUNT; i++) flat.push(`k${i}`, `v${i}`);
    assert.equal(parsePairs(serializePairs(flat)).length, MAX_PAIRS_COUNT * 2);
    const big = serializePairs(['k', 'x'.repeat(MAX_PAIRS_BYTES)]);
    assert.equal(parsePairs(big), null);
    const fits = serializePairs(['k', 'x'.repeat(MAX_PAIRS_BYTES - 4 - 8 - 3)]);
    assert.equal(fits.length, MAX_PAIRS_BYTES);
    assert.equal(parsePairs(fits)[1].length, MAX_PAIRS_BYTES - 15);
  });

  it('never throws on random bytes', () => {
    let state = 0x9e3779b9;
    const rnd = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return state >>> 0;
    };
    for (let i = 0; i < 20_000; i++) {
      const len = rnd() % 64;
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = rnd() & (j < 4 ? 3 : 0xff);
      const r = parsePairs(b);
      assert.ok(r === null || (Array.isArray(r) && r.length % 2 === 0));
      if (r) assert.deepEqual(serializePairs(r), b.length === 0 ? serializePairs([]) : b, 'what parses serializes back to the same bytes');
    }
  });
});
