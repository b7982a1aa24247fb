// Requests the listener itself refuses (400/405/408/413/414/431, the HTTP parser's errors included)
// counted by reason, for outrigger_listener_rejections_total{reason} on /metrics. Module-wide rather
// than per proxy: the places that reject (clientError, the request-target checks) need no handle to
// call it, and a process runs one proxy outside the tests (which compare before/after deltas).
// Logging each rejection (rate-limited, with the peer) belongs here too and is added with the
// front-door work (issue 12 point 8).

import type { Socket } from 'node:net';

const counts = new Map<string, number>();

/** The peer as a log line names it: address:port (address alone for a unix socket's empty one). */
export function peerOf(socket: Socket): string {
  return socket.remotePort === undefined ? (socket.remoteAddress ?? 'unix') : `${socket.remoteAddress}:${socket.remotePort}`;
}

/** Counts one rejection. reason: a short stable token (e.g. `header_timeout`, `HPE_INVALID_METHOD`). */
export function recordRejection(reason: string, peer: string): void {
  counts.set(reason, (counts.get(reason) ?? 0) + 1);
  void peer;
}

/** Rejections so far, by reason. */
export function rejectionCounts(): ReadonlyMap<string, number> {
  return counts;
}
