// The request path as filters and the upstream see it (normalize_path): percent-encoded unreserved
// characters decoded, repeated slashes merged, dot segments removed (RFC 3986 §6.2.2, §5.2.4; Envoy's
// normalize_path + merge_slashes, nginx's merge_slashes). Without it `/./private`, `//private` or
// `/%70rivate` reach the upstream as `/private` while a filter matching the prefix `/private` lets
// them by. Hand-written (no library normalizes this way): it runs on every request, and the common
// path (no '%', no '//', no '/.') is one scan with no allocation.

/** What normalizePath returns for a path it cannot carry: the reason (a stable token) and a message. */
export interface PathProblem {
  reason: 'path_above_root' | 'invalid_percent_encoding';
  message: string;
}

const UNRESERVED = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  UNRESERVED[c] = /[A-Za-z0-9\-._~]/.test(ch) ? 1 : 0;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** True when `p` (the part before '?') needs work: it holds '%', '//' or a '.' segment. */
function needsWork(p: string, end: number): boolean {
  for (let i = 0; i < end; i++) {
    const c = p.charCodeAt(i);
    if (c === 37 /* % */) return true;
    if (c === 47 /* / */ && i + 1 < end) {
      const n = p.charCodeAt(i + 1);
      if (n === 47) return true;
      if (n === 46 /* . */) {
        const n2 = i + 2 < end ? p.charCodeAt(i + 2) : 47;
        if (n2 === 47) return true;
        if (n2 === 46 && (i + 3 >= end || p.charCodeAt(i + 3) === 47)) return true;
      }
    }
  }
  return false;
}

/**
 * `path`: an origin-form target starting with '/', query included. Returns the normalized target
 * (the query kept as is) or a problem: a path whose '..' segments climb above the root, or a '%'
 * not followed by two hex digits.
 */
export function normalizePath(path: string): string | PathProblem {
  const q = path.indexOf('?');
  const end = q < 0 ? path.length : q;
  if (!needsWork(path, end)) return path;
  // 1. Percent-encoding: decode unreserved characters, upper-case the hex of the rest.
  let decoded = '';
  let from = 0;
  for (let i = 0; i < end; i++) {
    if (path.charCodeAt(i) !== 37) continue;
    const h = i + 2 < end ? hexVal(path.charCodeAt(i + 1)) : -1;
    const l = h >= 0 ? hexVal(path.charCodeAt(i + 2)) : -1;
    if (l < 0) return { reason: 'invalid_percent_encoding', message: `"%" not followed by two hex digits at offset ${i} of the path` };
    const v = h * 16 + l;
    decoded += path.slice(from, i) + (v < 128 && UNRESERVED[v] ? String.fromCharCode(v) : `%${path.slice(i + 1, i + 3).toUpperCase()}`);
    from = i + 3;
    i += 2;
  }
  decoded += path.slice(from, end);
  // 2 and 3. Segments: empty ones (repeated slashes) merged, '.' dropped, '..' pops one.
  const segs = decoded.split('/');
  const out: string[] = [];
  const last = segs.length - 1;
  let trailing = false;
  for (let i = 1; i <= last; i++) {
    const s = segs[i];
    if (s === '' || s === '.') {
      trailing = i === last;
      continue;
    }
    if (s === '..') {
      if (out.length === 0) return { reason: 'path_above_root', message: 'the path climbs above the root with ".."' };
      out.pop();
      trailing = i === last;
      continue;
    }
    out.push(s);
    trailing = false;
  }
  let norm = `/${out.join('/')}`;
  if (trailing && out.length > 0) norm += '/';
  return q < 0 ? norm : norm + path.slice(q);
}
