// The Host header a request names its origin with (RFC 9112 §3.2, RFC 3986 §3.2.2). A request with
// two of them, or one that is not host[:port], is refused: node keeps the first and drops the
// second, so a front proxy and the upstream could each believe a different one.

// reg-name (unreserved, pct-encoded, sub-delims), IPv4, or an IP literal in brackets; then :port.
const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::(\d{1,5}))?$/;

/**
 * The last value found valid: a sidecar's clients send the same Host on nearly every request, and
 * the regular expression costs ~300 ns a request (bench/request-target-micro.mjs) where the
 * comparison costs a few.
 */
let lastValid = '';

/** A valid host[:port] (port ≤ 65535). */
export function isValidAuthority(value: string): boolean {
  if (value === lastValid) return true;
  const m = HOST_PORT.exec(value);
  const ok = m !== null && (m[1] === undefined || Number(m[1]) <= 65535);
  if (ok) lastValid = value;
  return ok;
}

/**
 * The one Host header of a request from node's rawHeaders, '' when it has none, or null when it has
 * two or more, or one that is not a valid host[:port] (an empty value is valid: RFC 9112 §3.2).
 */
export function singleHost(rawHeaders: readonly string[]): string | null {
  let host: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const k = rawHeaders[i];
    if (k.length !== 4 || k.toLowerCase() !== 'host') continue;
    if (host !== undefined) return null;
    host = rawHeaders[i + 1];
  }
  if (host === undefined || host === '') return '';
  return isValidAuthority(host) ? host : null;
}
