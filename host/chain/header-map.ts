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
    let found = false;
    for (let i = 0; i < f.length; ) {
      if (f[i] === key) {
        if (!found) {
          f[i + 1] = value;
          found = true;
          i += 2;
        } else f.splice(i, 2);
      } else i += 2;
    }
    if (!found) f.push(key, value);
  }

  remove(key: string): void {
    const f = this.flat;
    for (let i = 0; i < f.length; ) {
      if (f[i] === key) f.splice(i, 2);
      else i += 2;
    }
  }

  /** Sum of key and value bytes (Envoy's HeaderMap::byteSize). */
  byteSize(): number {
    let n = 0;
    for (let i = 0; i < this.flat.length; i++) n += this.flat[i].length;
    return n;
  }
}
