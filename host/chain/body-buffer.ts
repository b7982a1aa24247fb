// The body bytes a filter can read and edit in one body callback: the current chunk, or everything a
// filter has buffered so far. Chunks are joined only when a filter actually reads or edits them.

const EMPTY = Buffer.alloc(0);

export class BodyBuffer {
  #chunks: Buffer[];
  #length: number;

  constructor(chunks: Buffer[] = []) {
    this.#chunks = chunks;
    let n = 0;
    for (const c of chunks) n += c.length;
    this.#length = n;
  }

  get length(): number {
    return this.#length;
  }

  get chunks(): readonly Buffer[] {
    return this.#chunks;
  }

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** All bytes as one Buffer (joins once, then keeps the joined copy). */
  bytes(): Buffer {
    if (this.#chunks.length === 0) return EMPTY;
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks, this.#length)];
    return this.#chunks[0];
  }

  /** Bytes [start, start+max) clamped to the buffer. */
  slice(start: number, max: number): Buffer {
    if (start >= this.#length || max === 0) return EMPTY;
    return this.bytes().subarray(start, Math.min(this.#length, start + max));
  }

  /**
   * Envoy's proxy_set_buffer_bytes (its Buffer::copyFrom): start=0 drains the first `size` bytes
   * (all of them when size >= length) and prepends the data, so size 0 prepends and a shorter size
   * replaces a prefix ("hello", (0, 1, "partial.replace.") -> "partial.replace.ello", Envoy's own
   * body test); start>=length appends. A splice that starts inside the body is refused (false), as
   * Envoy refuses it.
   */
  set(start: number, size: number, data: Buffer): boolean {
    if (start === 0 && size === 0) {
      if (data.length) this.#chunks.unshift(data);
    } else if (start === 0 && size >= this.#length) {
      this.#chunks = data.length ? [data] : [];
    } else if (start === 0) {
      const rest = this.bytes().subarray(size);
      this.#chunks = data.length ? [data, rest] : [rest];
    } else if (start >= this.#length) {
      if (data.length) this.#chunks.push(data);
    } else return false;
    let n = 0;
    for (const c of this.#chunks) n += c.length;
    this.#length = n;
    return true;
  }
}
