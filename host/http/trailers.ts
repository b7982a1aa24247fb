// Trailers between the wire and the filters' maps. A trailer section may not carry what frames,
// routes or authenticates the message (RFC 9110 §6.5.1): those fields, hop-by-hop ones and pseudo-
// headers are dropped on the way in, so a filter never sees (and the other side never gets) a
// content-length or host smuggled in after the body.

import { HeaderMap } from '../chain/header-map.js';
import { isHopByHop } from './hop-by-hop.js';

const NOT_IN_TRAILERS = new Set([
  'content-length',
  'content-encoding',
  'content-type',
  'content-range',
  'host',
  'authorization',
  'set-cookie',
  'cookie',
  'expect',
]);

function keep(name: string): boolean {
  return name.charCodeAt(0) !== 58 /* : */ && !isHopByHop(name) && !NOT_IN_TRAILERS.has(name);
}

/** The trailers node parsed after a request body (req.rawTrailers: HTTP/1.1 chunked or HTTP/2), or null when none. */
export function trailersFromRaw(raw: readonly string[] | undefined): HeaderMap | null {
  if (raw === undefined || raw.length === 0) return null;
  const flat: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i].toLowerCase();
    if (keep(k)) flat.push(k, raw[i + 1]);
  }
  return new HeaderMap(flat);
}

/**
 * The trailers undici reports with onComplete: raw [name, value, ...] Buffers over HTTP/1.1, an object
 * (values string or string[]) over HTTP/2; null when there are none. An HTTP/1.1 response that ended
 * with no trailer section reports an empty list: no trailers, as for a content-length body.
 */
export function trailersFromUpstream(t: Buffer[] | string[] | Record<string, string | string[] | undefined> | null | undefined): HeaderMap | null {
  if (t === null || t === undefined) return null;
  const flat: string[] = [];
  if (Array.isArray(t)) {
    for (let i = 0; i < t.length; i += 2) {
      const k = t[i].toString('latin1').toLowerCase();
      if (keep(k)) flat.push(k, t[i + 1].toString('latin1'));
    }
  } else {
    for (const k of Object.keys(t)) {
      const v = t[k];
      const name = k.toLowerCase();
      if (v === undefined || !keep(name)) continue;
      if (Array.isArray(v)) for (const x of v) flat.push(name, x);
      else flat.push(name, v);
    }
  }
  return flat.length === 0 ? null : new HeaderMap(flat);
}

/** A trailer map for node's HTTP/1.1 addTrailers (ServerResponse, ClientRequest): [name, value] pairs, order kept. */
export function trailerPairs(map: HeaderMap): [string, string][] {
  const out: [string, string][] = [];
  const f = map.flat;
  for (let i = 0; i < f.length; i += 2) if (keep(f[i])) out.push([f[i], f[i + 1]]);
  return out;
}

/** A trailer map for Http2ServerResponse.addTrailers / Http2Stream.sendTrailers: repeated names as arrays. */
export function trailersObject(map: HeaderMap): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  const f = map.flat;
  for (let i = 0; i < f.length; i += 2) {
    const k = f[i];
    if (!keep(k)) continue;
    const prev = out[k];
    if (prev === undefined) out[k] = f[i + 1];
    else if (Array.isArray(prev)) prev.push(f[i + 1]);
    else out[k] = [prev, f[i + 1]];
  }
  return out;
}

/** The names a Trailer header declares (lower-case), or null when it declares none. */
export function declaredTrailers(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  const v = (Array.isArray(value) ? value.join(',') : value).trim();
  return v === '' ? null : v;
}
