// HeaderMap (host/chain/header-map.ts): order, duplicates, replace and remove as proxy-wasm needs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeaderMap } from '../dist/host/chain/header-map.js';

describe('HeaderMap', { timeout: 20_000 }, () => {
  it('get returns the first value; count and byteSize follow the pairs', () => {
    const m = new HeaderMap([':path', '/', 'a', '1', 'a', '2']);
    assert.equal(m.get('a'), '1');
    assert.equal(m.get(':path'), '/');
    assert.equal(m.get('missing'), undefined);
    assert.equal(m.count, 3);
    assert.equal(m.byteSize(), ':path'.length + 1 + 1 + 1 + 1 + 1);
    assert.equal(new HeaderMap().count, 0);
  });

  it('add keeps duplicates in order', () => {
    const m = new HeaderMap();
    m.add('set-cookie', 'a');
    m.add('x', 'y');
    m.add('set-cookie', 'b');
    assert.deepEqual(m.flat, ['set-cookie', 'a', 'x', 'y', 'set-cookie', 'b']);
  });

  it('replace sets one value in the place of the first occurrence and drops the rest', () => {
    const m = new HeaderMap(['a', '1', 'b', '2', 'a', '3', 'c', '4', 'a', '5']);
    m.replace('a', 'z');
    assert.deepEqual(m.flat, ['a', 'z', 'b', '2', 'c', '4']);
    m.replace('new', 'v');
    assert.deepEqual(m.flat, ['a', 'z', 'b', '2', 'c', '4', 'new', 'v']);
    m.replace('new', '');
    assert.equal(m.get('new'), '');
  });

  it('remove drops every occurrence and keeps the order of the others', () => {
    const m = new HeaderMap(['a', '1', 'b', '2', 'a', '3', 'a', '4', 'c', '5']);
    m.remove('a');
    assert.deepEqual(m.flat, ['b', '2', 'c', '5']);
    m.remove('nothing');
    assert.deepEqual(m.flat, ['b', '2', 'c', '5']);
    m.remove('b');
    m.remove('c');
    assert.deepEqual(m.flat, []);
    m.remove('c');
    assert.equal(m.count, 0);
  });

  it('is case-sensitive (keys arrive lower-cased) and keeps a value equal to a key apart', () => {
    const m = new HeaderMap(['a', 'b', 'b', 'a']);
    m.remove('b');
    assert.deepEqual(m.flat, ['a', 'b']);
    assert.equal(m.get('A'), undefined);
  });

  it('matches a reference model over random operation sequences', () => {
    let state = 12345;
    const rnd = (n) => {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      return state % n;
    };
    const keys = ['a', 'b', 'c', ':path', 'set-cookie'];
    for (let round = 0; round < 300; round++) {
      const m = new HeaderMap();
      let model = [];
      for (let op = 0; op < 40; op++) {
        const k = keys[rnd(keys.length)];
        const v = String(rnd(100));
        switch (rnd(3)) {
          case 0:
            m.add(k, v);
            model.push([k, v]);
            break;
          case 1: {
            m.replace(k, v);
            const i = model.findIndex(([mk]) => mk === k);
            if (i < 0) model.push([k, v]);
            else {
              model = model.filter(([mk], j) => mk !== k || j === i);
              model[model.findIndex(([mk]) => mk === k)] = [k, v];
            }
            break;
          }
          default:
            m.remove(k);
            model = model.filter(([mk]) => mk !== k);
        }
        assert.deepEqual(m.flat, model.flat(), `round ${round} op ${op}`);
        assert.equal(m.get(k), model.find(([mk]) => mk === k)?.[1]);
      }
    }
  });
});
