// Headers a sidecar sets on every request before the filters run, so filters, the upstream and the
// logs agree: x-forwarded-proto from the listener's scheme (a client cannot claim https on a plain
// listener unless the operator trusts what is in front, trust_forwarded_headers), and x-request-id
// (generate_request_id, as Envoy). x-forwarded-for is appended to when the request goes upstream.

import { randomUUID } from 'node:crypto';
import type { HeaderMap } from '../chain/header-map.js';

/** Sets x-forwarded-proto to the listener's scheme unless `trust` and the client sent one. */
export function forwardedProto(headers: HeaderMap, scheme: string, trust: boolean): void {
  if (trust && headers.get('x-forwarded-proto') !== undefined) return;
  headers.replace('x-forwarded-proto', scheme);
}

/**
 * The request's id: its x-request-id, or a new UUID set as x-request-id when `generate` (node's
 * randomUUID draws from a cached entropy pool: a fraction of a microsecond). Undefined when the
 * request has none and generation is off.
 */
export function requestIdFor(headers: HeaderMap, generate: boolean): string | undefined {
  const id = headers.get('x-request-id');
  if (id !== undefined && id !== '') return id;
  if (!generate) return undefined;
  const fresh = randomUUID();
  headers.replace('x-request-id', fresh);
  return fresh;
}
