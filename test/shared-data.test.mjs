// The shared-data store's own rules: compare-and-swap as cpp-host, and the caps that keep a filter
// from growing the proxy's heap through it (the store is outside every filter's memory_mb).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WasmResult } from '../dist/abi/enums.js';
import { SharedData } from '../dist/host/abi/shared-data.js';
import { SHARED_DATA_MAX_BYTES, SHARED_DATA_MAX_KEYS, SHARED_DATA_MAX_VALUE_BYTES } from '../dist/host/limits.js';

describe('shared data store', () => {
  it('compare-and-swap: a stale cas is refused, cas 0 overwrites', () => {
    const sd = new SharedData();
    assert.equal(sd.set('vm', 'k', Buffer.from('a'), 0), WasmResult.Ok);
    const first = /** @type {{ value: Buffer, cas: number }} */ (sd.get('vm', 'k'));
    assert.equal(sd.set('vm', 'k', Buffer.from('b'), first.cas), WasmResult.Ok);
    assert.equal(sd.set('vm', 'k', Buffer.from('c'), first.cas), WasmResult.CasMismatch);
    assert.equal(sd.get('vm', 'k')?.value.toString(), 'b');
    assert.equal(sd.set('vm', 'k', Buffer.from('d'), 0), WasmResult.Ok);
    assert.equal(sd.get('other', 'k'), undefined, 'stores are per vm_id');
  });

  it('refuses a value over the size cap and leaves the store as it was', () => {
    const sd = new SharedData();
    assert.equal(sd.set('vm', 'big', Buffer.alloc(SHARED_DATA_MAX_VALUE_BYTES + 1), 0), WasmResult.BadArgument);
    assert.equal(sd.get('vm', 'big'), undefined);
  });

  it('bounds the bytes a vm_id holds: past the cap a new value is refused, replacing one in place still works', () => {
    const sd = new SharedData();
    const value = Buffer.alloc(SHARED_DATA_MAX_VALUE_BYTES);
    const fits = Math.floor(SHARED_DATA_MAX_BYTES / (SHARED_DATA_MAX_VALUE_BYTES + 8));
    for (let i = 0; i < fits; i++) assert.equal(sd.set('vm', `key-${String(i).padStart(4, '0')}`, value, 0), WasmResult.Ok, `value ${i}`);
    const held = sd.bytes('vm');
    assert.ok(held <= SHARED_DATA_MAX_BYTES);
    assert.equal(sd.set('vm', 'one-more', value, 0), WasmResult.InternalFailure, 'the 64 MiB cap holds');
    assert.equal(sd.get('vm', 'one-more'), undefined);
    assert.equal(sd.bytes('vm'), held, 'a refused set changes nothing');
    // Replacing a value counts only the difference, so a full store can still be updated.
    assert.equal(sd.set('vm', 'key-0000', Buffer.alloc(10), 0), WasmResult.Ok);
    assert.equal(sd.bytes('vm'), held - SHARED_DATA_MAX_VALUE_BYTES + 10);
    assert.equal(sd.set('vm', 'one-more', Buffer.alloc(100), 0), WasmResult.Ok, 'room again after the shrink');
    assert.equal(sd.set('other', 'k', value, 0), WasmResult.Ok, 'another vm_id has its own budget');
  });

  it('bounds the number of keys a vm_id holds', () => {
    const sd = new SharedData();
    const one = Buffer.from('x');
    for (let i = 0; i < SHARED_DATA_MAX_KEYS; i++) assert.equal(sd.set('vm', `k${i}`, one, 0), WasmResult.Ok);
    assert.equal(sd.set('vm', 'k-new', one, 0), WasmResult.InternalFailure);
    assert.equal(sd.set('vm', 'k0', Buffer.from('y'), 0), WasmResult.Ok, 'an existing key can still be set');
  });
});
