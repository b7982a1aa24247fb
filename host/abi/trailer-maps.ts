// The trailer maps (MapType HttpRequestTrailers / HttpResponseTrailers) as filters see them. Every
// stream has both: a message without trailers reads as an empty map (the Rust SDK panics on the
// BadArgument a missing map would answer, taking on_log and on_done with it). Writing follows Envoy:
// trailers that arrived are writable in their own callback and while paused there; a message without
// them gets a fresh map only from its last body callback (end_of_stream), as Envoy's
// addDecodedTrailers / addEncodedTrailers, and the filters after that one then see the body without
// end_of_stream and the new trailers in their own trailers callback. Anywhere else the map does not
// exist yet for writing: BadArgument, as in Envoy.

import { MapType } from '../../abi/enums.js';
import { HeaderMap } from '../chain/header-map.js';
import type { HttpStream } from '../chain/http-stream.js';
import { StreamDirection } from '../chain/stream-actions.js';

/** What a message without trailers reads as. Never written: writableTrailers hands out a fresh map. */
const EMPTY = new HeaderMap([]);

export function isTrailerMap(type: number): boolean {
  return type === MapType.HttpRequestTrailers || type === MapType.HttpResponseTrailers;
}

/** The trailers of the message `type` names, or the shared empty map when it has none. */
export function readTrailers(s: HttpStream, type: number): HeaderMap {
  const m = type === MapType.HttpRequestTrailers ? s.requestTrailers : s.responseTrailers;
  return m ?? EMPTY;
}

/** The map a write changes, created when the chain allows it now; null when it does not exist for writing. */
export function writableTrailers(s: HttpStream, type: number): HeaderMap | null {
  const isReq = type === MapType.HttpRequestTrailers;
  const m = isReq ? s.requestTrailers : s.responseTrailers;
  if (m !== null) return m;
  if ((s.trailersCreatable & (isReq ? StreamDirection.Request : StreamDirection.Response)) === 0) return null;
  const fresh = new HeaderMap([]);
  if (isReq) s.requestTrailers = fresh;
  else s.responseTrailers = fresh;
  return fresh;
}
