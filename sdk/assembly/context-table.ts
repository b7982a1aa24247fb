// Context id → context object, for the dispatcher's lookup on every callback.
//
// Open addressing with linear probing and backward-shift deletion: a lookup is usually one probe,
// and insert/delete allocate nothing. The standard Map allocates per entry and keeps deleted
// entries in its chains until a rehash, which showed up at ~0.4 µs per request in the proxy's
// profile. The slot is the id's low bits: hosts hand out ids that are dense there (Envoy counts up;
// Outrigger reuses small slot numbers), so the contexts in flight sit in a few cache lines instead
// of being scattered by a hash. Id 0 is the empty marker: hosts never hand it out (it means "no
// parent").

const INITIAL_CAPACITY = 16;

export class ContextTable<T> {
  private keys: StaticArray<u32> = new StaticArray<u32>(INITIAL_CAPACITY);
  private values: StaticArray<T | null> = new StaticArray<T | null>(INITIAL_CAPACITY);
  private count: i32 = 0;

  get size(): i32 {
    return this.count;
  }

  @inline private home(id: u32): i32 {
    return <i32>(id & <u32>(this.keys.length - 1));
  }

  /** The index holding `id`, or -1. */
  private find(id: u32): i32 {
    if (id == 0) return -1;
    const keys = this.keys;
    const mask = keys.length - 1;
    let i = this.home(id);
    while (true) {
      const k = unchecked(keys[i]);
      if (k == id) return i;
      if (k == 0) return -1;
      i = (i + 1) & mask;
    }
  }

  get(id: u32): T | null {
    const i = this.find(id);
    return i < 0 ? null : unchecked(this.values[i]);
  }

  has(id: u32): bool {
    return this.find(id) >= 0;
  }

  /** Adds or replaces. `id` must not be 0. */
  set(id: u32, value: T): void {
    if (id == 0) return;
    if ((this.count + 1) * 2 > this.keys.length) this.grow();
    const keys = this.keys;
    const mask = keys.length - 1;
    let i = this.home(id);
    while (true) {
      const k = unchecked(keys[i]);
      if (k == id) break;
      if (k == 0) {
        unchecked((keys[i] = id));
        this.count++;
        break;
      }
      i = (i + 1) & mask;
    }
    unchecked((this.values[i] = value));
  }

  delete(id: u32): bool {
    let hole = this.find(id);
    if (hole < 0) return false;
    const keys = this.keys;
    const values = this.values;
    const mask = keys.length - 1;
    // Move later entries of the same probe run back into the hole, so lookups never need tombstones.
    let j = hole;
    while (true) {
      j = (j + 1) & mask;
      const k = unchecked(keys[j]);
      if (k == 0) break;
      const h = this.home(k);
      // k may fill the hole only if its home is not cyclically inside (hole, j].
      const stays = hole <= j ? hole < h && h <= j : hole < h || h <= j;
      if (!stays) {
        unchecked((keys[hole] = k));
        unchecked((values[hole] = unchecked(values[j])));
        hole = j;
      }
    }
    unchecked((keys[hole] = 0));
    unchecked((values[hole] = null));
    this.count--;
    return true;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const capacity = oldKeys.length << 1;
    this.keys = new StaticArray<u32>(capacity);
    this.values = new StaticArray<T | null>(capacity);
    this.count = 0;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = unchecked(oldKeys[i]);
      if (k != 0) this.set(k, changetype<T>(unchecked(oldValues[i])));
    }
  }
}
