// Bounds-checked access to a guest's linear memory. Every view is re-derived when the memory's
// buffer changes, because any call into the guest may grow memory and detach the old buffer.

const utf8 = new TextDecoder('utf-8');
const fcc = String.fromCharCode;

/** Up to 8 bytes as a latin1 string: a fixed-arity fromCharCode is ~3x faster than a Buffer slice. */
function latin1Upto8(u8: Uint8Array, p: number, n: number): string {
  switch (n) {
    case 0:
      return '';
    case 1:
      return fcc(u8[p]);
    case 2:
      return fcc(u8[p], u8[p + 1]);
    case 3:
      return fcc(u8[p], u8[p + 1], u8[p + 2]);
    case 4:
      return fcc(u8[p], u8[p + 1], u8[p + 2], u8[p + 3]);
    case 5:
      return fcc(u8[p], u8[p + 1], u8[p + 2], u8[p + 3], u8[p + 4]);
    case 6:
      return fcc(u8[p], u8[p + 1], u8[p + 2], u8[p + 3], u8[p + 4], u8[p + 5]);
    case 7:
      return fcc(u8[p], u8[p + 1], u8[p + 2], u8[p + 3], u8[p + 4], u8[p + 5], u8[p + 6]);
    default:
      return fcc(u8[p], u8[p + 1], u8[p + 2], u8[p + 3], u8[p + 4], u8[p + 5], u8[p + 6], u8[p + 7]);
  }
}

export class GuestMemory {
  #memory: WebAssembly.Memory | null = null;
  #buffer: ArrayBuffer | null = null;
  #u8: Uint8Array = new Uint8Array(0);
  #dv: DataView = new DataView(new ArrayBuffer(0));
  /** The same bytes as a Buffer, for latin1 decoding and encoding without a copy. */
  #buf: Buffer & { latin1Slice(start: number, end: number): string; latin1Write(s: string, offset: number): number } = Buffer.alloc(0) as never;

  attach(memory: WebAssembly.Memory | null): void {
    this.#memory = memory;
    this.#buffer = null;
    this.#u8 = new Uint8Array(0);
    // Every view of the old buffer goes: a destroyed instance must not keep its memory alive.
    this.#dv = new DataView(new ArrayBuffer(0));
    this.#buf = Buffer.alloc(0) as never;
  }

  get attached(): boolean {
    return this.#memory !== null;
  }

  #refresh(): void {
    // Growing memory detaches the old buffer, and a detached buffer's views have length 0: that is
    // cheaper to test on every access than reading memory.buffer.
    if (this.#u8.length !== 0) return;
    const buf = this.#memory ? this.#memory.buffer : null;
    if (buf !== this.#buffer) {
      this.#buffer = buf as ArrayBuffer | null;
      this.#u8 = buf ? new Uint8Array(buf) : new Uint8Array(0);
      this.#dv = buf ? new DataView(buf) : new DataView(new ArrayBuffer(0));
      this.#buf = (buf ? Buffer.from(buf) : Buffer.alloc(0)) as never;
    }
  }

  /** The whole memory as bytes, current after any growth. Valid until the next guest call. */
  bytes(): Uint8Array {
    this.#refresh();
    return this.#u8;
  }

  get byteLength(): number {
    this.#refresh();
    return this.#u8.length;
  }

  /** True when [ptr, ptr+len) lies inside memory. Pointers arrive as i32 and may be negative. */
  inBounds(ptr: number, len: number): boolean {
    this.#refresh();
    const p = ptr >>> 0;
    const n = len >>> 0;
    return p + n <= this.#u8.length;
  }

  /** A view (not a copy) of guest bytes, or null when out of bounds. Valid until the next guest call. */
  view(ptr: number, len: number): Uint8Array | null {
    this.#refresh();
    const p = ptr >>> 0;
    const n = len >>> 0;
    if (p + n > this.#u8.length) return null;
    return this.#u8.subarray(p, p + n);
  }

  /** A copy of guest bytes, or null when out of bounds. */
  copy(ptr: number, len: number): Buffer | null {
    const v = this.view(ptr, len);
    return v === null ? null : Buffer.from(v);
  }

  /** Guest bytes decoded as UTF-8, or null when out of bounds. */
  string(ptr: number, len: number): string | null {
    const v = this.view(ptr, len);
    return v === null ? null : utf8.decode(v);
  }

  /** Guest bytes decoded as latin1 (what HTTP header octets are), or null when out of bounds. */
  latin1(ptr: number, len: number): string | null {
    this.#refresh();
    const p = ptr >>> 0;
    const n = len >>> 0;
    const u8 = this.#u8;
    if (p + n > u8.length) return null;
    // Header names and values are mostly short: build those directly.
    if (n <= 8) return latin1Upto8(u8, p, n);
    if (n <= 16) return latin1Upto8(u8, p, 8) + latin1Upto8(u8, p + 8, n - 8);
    return this.#buf.latin1Slice(p, p + n);
  }

  /** Writes a latin1 string (one byte per char) at ptr. False when out of bounds. */
  writeLatin1(ptr: number, s: string): boolean {
    this.#refresh();
    const p = ptr >>> 0;
    const n = s.length;
    const u8 = this.#u8;
    if (p + n > u8.length) return false;
    // Header values are short: a loop is cheaper than a call into node's C++ string writer.
    if (n <= 64) for (let i = 0; i < n; i++) u8[p + i] = s.charCodeAt(i);
    else this.#buf.latin1Write(s, p);
    return true;
  }

  writeU32(ptr: number, value: number): boolean {
    this.#refresh();
    const p = ptr >>> 0;
    const u8 = this.#u8;
    if (p + 4 > u8.length) return false;
    // Byte stores through the view every access already uses: the DataView is one more object to
    // fetch, on a path that runs with cold caches.
    u8[p] = value;
    u8[p + 1] = value >>> 8;
    u8[p + 2] = value >>> 16;
    u8[p + 3] = value >>> 24;
    return true;
  }

  writeU64(ptr: number, value: bigint): boolean {
    this.#refresh();
    const p = ptr >>> 0;
    if (p + 8 > this.#u8.length) return false;
    this.#dv.setBigUint64(p, BigInt.asUintN(64, value), true);
    return true;
  }

  readU32(ptr: number): number | null {
    this.#refresh();
    const p = ptr >>> 0;
    if (p + 4 > this.#u8.length) return null;
    return this.#dv.getUint32(p, true);
  }

  write(ptr: number, bytes: Uint8Array): boolean {
    this.#refresh();
    const p = ptr >>> 0;
    if (p + bytes.length > this.#u8.length) return false;
    this.#u8.set(bytes, p);
    return true;
  }
}
