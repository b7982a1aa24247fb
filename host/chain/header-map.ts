// An ordered, duplicate-preserving header map, as proxy-wasm sees it: lower-case keys, pseudo-headers
// (":method", ":path", ...) as ordinary entries, values as latin1 strings (the wire octets).

export class HeaderMap {
  /** Flat [k0, v0, k1, v1, ...]; keys are lower-case. */
  flat: string[];

  constructor(flat: string[] = []) {
    this.flat = flat;
  }

  get count(): number {
    return this.flat.length >> 1;
  }

  /** The first value of `key`, as Envoy returns it. */
  get(key: string): string | undefined {
    const f = this.flat;
    for (let i = 0; i < f.length; i += 2) if (f[i] === key) return f[i + 1];
    return undefined;
  }

  add(key: string, value: string): void {
    this.flat.push(key, value);
  }

  /** Sets `key` to exactly one value, in the place of its first occurrence. */
  replace(key: string, value: string): void {
    const f = this.flat;
    const first = this.#indexOf(key, 0);
    if (first < 0) {
      f.push(key, value);
      return;
    }
    f[first + 1] = value;
    this.#drop(key, first + 2);
  }

  remove(key: string): void {
    this.#drop(key, 0);
  }

  #indexOf(key: string, from: number): number {
    const f = this.flat;
    for (let i = from; i < f.length; i += 2) if (f[i] === key) return i;
    return -1;
  }

  /** Removes every pair named `key` at or after `from`, keeping the order (no splice: it allocates). */
  #drop(key: string, from: number): void {
    const f = this.flat;
    let w = this.#indexOf(key, from);
    if (w < 0) return;
    for (let r = w + 2; r < f.length; r += 2) {
      if (f[r] === key) continue;
      f[w] = f[r];
      f[w + 1] = f[r + 1];
      w += 2;
    }
    // pop(), not `length =`: setting an array's length is a runtime call in V8.
    while (f.length > w) f.pop();
  }

  /** Sum of key and value bytes (Envoy's HeaderMap::byteSize). */
  byteSize(): number {
    let n = 0;
    for (let i = 0; i < this.flat.length; i++) n += this.flat[i].length;
    return n;
  }
}
