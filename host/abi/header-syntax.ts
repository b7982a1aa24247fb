// What a filter may put in a header: an HTTP token (or a pseudo-header) as the name, and a value
// without CR, LF or NUL. Anything else would either crash the writer or smuggle a second header.

// Lookup table of RFC 9110 token characters (lower-case only: names are lower-cased before this).
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") TOKEN[c.charCodeAt(0)] = 1;

export function validHeaderName(name: string): boolean {
  const n = name.length;
  if (n === 0) return false;
  // A pseudo-header (":path") is a token behind one colon.
  for (let i = name.charCodeAt(0) === 58 && n > 1 ? 1 : 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c > 127 || TOKEN[c] === 0) return false;
  }
  return true;
}

export function validHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 9) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}
