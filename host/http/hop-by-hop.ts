// Headers that describe one connection, not the message (RFC 9110 §7.6.1): a proxy drops them,
// along with any header the Connection header names.

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'http2-settings',
]);

/** Lower-cased header names the Connection header's value lists (usually none). */
export function connectionTokens(value: string | undefined): Set<string> | null {
  if (!value) return null;
  const out = new Set<string>();
  for (const t of value.split(',')) {
    const s = t.trim().toLowerCase();
    if (s && s !== 'close' && s !== 'keep-alive') out.add(s);
  }
  return out.size ? out : null;
}

/**
 * Copies raw [Name, value, ...] pairs into a flat list with lower-case names, dropping hop-by-hop
 * headers and the headers the Connection header lists. `lowered`: the names already are lower-case.
 */
export function collectEndToEnd(raw: readonly string[], out: string[], lowered = false): void {
  let listed: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 10 && (lowered ? raw[i] : raw[i].toLowerCase()) === 'connection') {
      const t = connectionTokens(raw[i + 1]);
      if (t) listed = listed ? new Set([...listed, ...t]) : t;
    }
  }
  for (let i = 0; i < raw.length; i += 2) {
    const k = lowered ? raw[i] : raw[i].toLowerCase();
    // HTTP/2's pseudo-headers (node lists them in rawHeaders) are the exchange's to set.
    if (HOP_BY_HOP.has(k) || listed?.has(k) || k.charCodeAt(0) === 58 /* : */) continue;
    out.push(k, raw[i + 1]);
  }
}

export function isHopByHop(lowerName: string): boolean {
  return HOP_BY_HOP.has(lowerName);
}
