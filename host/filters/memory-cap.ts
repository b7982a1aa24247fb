// Caps a module's linear memory (limits.memory_mb) by rewriting the maximum in its memory
// definition or memory import, so that memory.grow past the cap fails as the wasm spec allows
// (returns -1): the filter's allocator fails and the trap path contains it. A module's own lower
// maximum still holds. Done on the bytes because binaryen's JS API can only replace a memory
// together with all of its data segments.

import { OutriggerError } from '../errors.js';

const PAGE = 65536;
const SECTION_IMPORT = 2;
const SECTION_MEMORY = 5;

class Reader {
  pos: number;
  constructor(
    readonly b: Uint8Array,
    pos = 0,
  ) {
    this.pos = pos;
  }
  byte(): number {
    if (this.pos >= this.b.length) throw new Error('unexpected end of module');
    return this.b[this.pos++];
  }
  /** Unsigned LEB128 (up to 64 bits, as a number: memory sizes in pages fit). */
  uleb(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      const byte = this.byte();
      result += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) return result;
      mul *= 128;
    }
  }
  skip(n: number): void {
    this.pos += n;
  }
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/** Limits as written: flags (bit 0: has max, bit 1: shared, bit 2: 64-bit), min and max in pages. */
function readLimits(r: Reader): { flags: number; min: number; max: number | null } {
  const flags = r.byte();
  const min = r.uleb();
  const max = flags & 1 ? r.uleb() : null;
  if (flags & 8) r.uleb(); // custom page size log2 (proposal); keep going, the cap is in 64 KiB pages
  return { flags, min, max };
}

function writeLimits(flags: number, min: number, max: number): number[] {
  return [flags | 1, ...uleb(min), ...uleb(max)];
}

/**
 * Returns the module with every memory's maximum at most `capMb` MiB. Throws
 * OUTRIGGER_WASM_MEMORY_OVER_CAP when a memory's initial size is already over the cap.
 */
export function capMemory(bytes: Uint8Array, capMb: number, name: string, file: string): Uint8Array {
  const capPages = Math.floor((capMb * 1024 * 1024) / PAGE);
  const r = new Reader(bytes, 8);
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  const over = (min: number): never => {
    throw new OutriggerError(
      'OUTRIGGER_WASM_MEMORY_OVER_CAP',
      `${name}: ${file} starts with ${((min * PAGE) / 1048576).toFixed(1)} MiB of linear memory, over its cap of ${capMb} MiB (limits.memory_mb)`,
      "raise the filter's limits.memory_mb, or build the filter with a smaller initial memory",
    );
  };
  while (r.pos < bytes.length) {
    const start = r.pos;
    const id = r.byte();
    const size = r.uleb();
    const body = r.pos;
    const end = body + size;
    if (id !== SECTION_IMPORT && id !== SECTION_MEMORY) {
      parts.push(bytes.subarray(start, end));
      r.pos = end;
      continue;
    }
    // Rebuild this section: copy everything, rewriting each memory's limits.
    const out: number[] = [];
    const copy = (from: number, to: number) => {
      for (let i = from; i < to; i++) out.push(bytes[i]);
    };
    const count = r.uleb();
    copy(body, r.pos);
    for (let i = 0; i < count; i++) {
      let from = r.pos;
      let isMemory = id === SECTION_MEMORY;
      if (id === SECTION_IMPORT) {
        r.skip(r.uleb()); // module
        r.skip(r.uleb()); // field
        const kind = r.byte();
        if (kind === 0) r.uleb();
        else if (kind === 1) {
          r.byte();
          readLimits(r);
        } else if (kind === 3) r.skip(2);
        else if (kind === 4) {
          r.byte();
          r.uleb();
        } else if (kind !== 2) throw new Error(`unknown import kind ${kind}`);
        if (kind !== 2) {
          copy(from, r.pos);
          continue;
        }
        copy(from, r.pos);
        from = r.pos;
        isMemory = true;
      }
      if (isMemory) {
        const lim = readLimits(r);
        if (lim.flags & ~0x03) {
          // 64-bit or custom page sizes: leave as is (no SDK we support emits them).
          copy(from, r.pos);
          continue;
        }
        if (lim.min > capPages) over(lim.min);
        const max = lim.max === null ? capPages : Math.min(lim.max, capPages);
        out.push(...writeLimits(lim.flags, lim.min, max));
      }
    }
    if (r.pos !== end) throw new Error(`malformed section ${id}`);
    parts.push(Uint8Array.from([id, ...uleb(out.length), ...out]));
  }
  return Buffer.concat(parts);
}
