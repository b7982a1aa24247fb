// What the host made of some guest bytes (a lower-cased header name, a split property path),
// remembered by address. SDKs keep such names in static data or in a cache, so the same few arrive
// from the same addresses on every request; comparing their bytes with the remembered copy is
// cheaper than decoding, lower-casing or splitting them again, which showed up at the top of a
// filter's host-side profile.

const SLOT_BITS = 5;
const SLOTS = 1 << SLOT_BITS;
/** Longer byte strings are decoded each time (and are rare). */
const MAX_CACHED = 48;

/**
 * Slot of an address. Guest allocators align to 8 or 16 bytes, so the low bits say nothing: a
 * multiplicative hash spreads every bit of the address over the slot number.
 */
function slotOf(p: number): number {
  return Math.imul(p, 0x9e3779b1) >>> (32 - SLOT_BITS);
}

export class GuestBytesCache<T> {
  readonly #ptr = new Int32Array(SLOTS).fill(-1);
  readonly #bytes: Uint8Array[] = new Array(SLOTS).fill(new Uint8Array(0));
  readonly #values: (T | undefined)[] = new Array(SLOTS).fill(undefined);

  /** The value stored for these exact bytes at this address, or undefined. */
  get(u8: Uint8Array, p: number, n: number): T | undefined {
    const slot = slotOf(p);
    if (this.#ptr[slot] !== p) return undefined;
    const b = this.#bytes[slot];
    if (b.length !== n) return undefined;
    for (let i = 0; i < n; i++) if (u8[p + i] !== b[i]) return undefined;
    return this.#values[slot];
  }

  set(u8: Uint8Array, p: number, n: number, value: T): void {
    if (n > MAX_CACHED) return;
    const slot = slotOf(p);
    this.#ptr[slot] = p;
    this.#bytes[slot] = u8.slice(p, p + n);
    this.#values[slot] = value;
  }
}
