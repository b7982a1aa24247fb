// The request target as filters and the upstream see it (RFC 9112 §3.2): decided once, before any
// filter runs, so a path-based filter judges the very path the upstream will serve.
//   origin form   /p?q          → normalized (normalize_path) unless turned off
//   absolute form http://a/p?q  → origin form /p?q, :authority "a" (the Host header is ignored, §3.2.2)
//   asterisk form *             → only with OPTIONS, forwarded as is
//   CONNECT                     → 405: Outrigger does not tunnel
// Anything else, and a Host header that is doubled or not host[:port], is a 400.

import { isValidAuthority, singleHost } from './host-header.js';
import { normalizePath } from './path-normalization.js';

export interface RequestTarget {
  /** What goes in :path. */
  path: string;
  /** What goes in :authority: from the absolute form's URI, else the Host header ('' when none). */
  authority: string;
}

/** A request the listener refuses before the filters see it. reason: a stable token for /metrics and the log. */
export interface TargetRejection {
  status: 400 | 405;
  code: 'OUTRIGGER_BAD_REQUEST' | 'OUTRIGGER_METHOD_NOT_SUPPORTED';
  reason: string;
  message: string;
}

function bad(reason: string, message: string): TargetRejection {
  return { status: 400, code: 'OUTRIGGER_BAD_REQUEST', reason, message };
}

/** `url`: the target as node parsed it (req.url); `rawHeaders`: req.rawHeaders. */
export function resolveRequestTarget(method: string, url: string, rawHeaders: readonly string[], normalize: boolean): RequestTarget | TargetRejection {
  if (method === 'CONNECT')
    return {
      status: 405,
      code: 'OUTRIGGER_METHOD_NOT_SUPPORTED',
      reason: 'connect_method',
      message: 'CONNECT is not supported: Outrigger is a reverse proxy and does not tunnel',
    };
  const host = singleHost(rawHeaders);
  if (host === null) return bad('invalid_host', 'the request needs exactly one Host header, of the form host[:port]');
  let path = url;
  let authority = host;
  const c0 = url.charCodeAt(0);
  if (c0 !== 47 /* / */) {
    if (url === '*') {
      if (method !== 'OPTIONS') return bad('invalid_target', 'the target "*" is only valid with OPTIONS');
      return { path: url, authority };
    }
    const abs = /^https?:\/\/([^/?#]*)/i.exec(url);
    if (abs === null) return bad('invalid_target', 'the request target must be a path starting with "/" or an absolute http(s) URI');
    authority = abs[1];
    if (authority.includes('@') || !isValidAuthority(authority) || authority === '')
      return bad('invalid_target', 'the absolute URI needs a host[:port] authority without user information');
    path = url.slice(abs[0].length);
    if (path === '' || path.charCodeAt(0) !== 47) path = `/${path}`;
  }
  if (path.includes('#')) return bad('invalid_target', 'the request target must not carry a fragment ("#")');
  if (!normalize) return { path, authority };
  const n = normalizePath(path);
  if (typeof n !== 'string') return bad(n.reason, n.message);
  return { path: n, authority };
}
