// The proxy-wasm pair layout (ABI notes §4.1): u32 count, count × (u32 key_len, u32 value_len),
// then count × (key, NUL, value, NUL). Keys and values are header octets, held as latin1 strings.

import { MAX_PAIRS_BYTES, MAX_PAIRS_COUNT } from '../limits.js';

/** Serializes a flat [k0, v0, k1, v1, ...] list. */
export function serializePairs(flat: readonly string[]): Buffer {
  const n = flat.length >> 1;
  let size = 4 + n * 8;
  for (let i = 0; i < flat.length; i++) size += flat[i].length + 1;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32LE(n, 0);
  let lens = 4;
  let data = 4 + n * 8;
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i];
    const v = flat[i + 1];
    out.writeUInt32LE(k.length, lens);
    out.writeUInt32LE(v.length, lens + 4);
    lens += 8;
    data += out.write(k, data, 'latin1');
    out[data++] = 0;
    data += out.write(v, data, 'latin1');
    out[data++] = 0;
  }
  return out;
}

/**
 * Parses a guest-supplied map strictly, as cpp-host does: exact total length, NUL after every
 * key and value, bounded size and count. Returns null when malformed. An empty input is an empty map.
 */
export function parsePairs(bytes: Uint8Array): string[] | null {
  if (bytes.length === 0) return [];
  if (bytes.length > MAX_PAIRS_BYTES || bytes.length < 4) return null;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const n = buf.readUInt32LE(0);
  if (n > MAX_PAIRS_COUNT) return null;
  let data = 4 + n * 8;
  if (data > buf.length) return null;
  const out: string[] = new Array(n * 2);
  for (let i = 0; i < n; i++) {
    const kl = buf.readUInt32LE(4 + i * 8);
    const vl = buf.readUInt32LE(8 + i * 8);
    if (data + kl + 1 + vl + 1 > buf.length) return null;
    if (buf[data + kl] !== 0 || buf[data + kl + 1 + vl] !== 0) return null;
    out[i * 2] = buf.toString('latin1', data, data + kl);
    data += kl + 1;
    out[i * 2 + 1] = buf.toString('latin1', data, data + vl);
    data += vl + 1;
  }
  return data === buf.length ? out : null;
}
