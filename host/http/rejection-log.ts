// A request the listener refuses (before any filter runs) is counted (rejections.ts, /metrics) and
// logged once with the peer and the reason, at most REJECTION_LOG_PER_SECOND lines a second per
// reason: the lines held back are counted in the next one logged, so a flood of bad requests shows
// without drowning the log, and one kind of flood does not hide another kind of rejection.

import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { REJECTION_LOG_PER_SECOND } from '../limits.js';
import { peerOf, recordRejection } from './rejections.js';

interface Window {
  start: number;
  logged: number;
  suppressed: number;
}
/** Per reason; reasons are a small fixed set (ours and the parser's HPE_ codes). */
const windows = new Map<string, Window>();

export function logRejection(logger: Logger, socket: Socket, status: number, reason: string, message: string): void {
  const peer = peerOf(socket);
  recordRejection(reason, peer);
  const now = Date.now();
  let w = windows.get(reason);
  if (w === undefined) {
    w = { start: now, logged: 0, suppressed: 0 };
    windows.set(reason, w);
  } else if (now - w.start >= 1000) {
    w.start = now;
    w.logged = 0;
  }
  if (w.logged >= REJECTION_LOG_PER_SECOND) {
    w.suppressed++;
    return;
  }
  w.logged++;
  const held = w.suppressed;
  w.suppressed = 0;
  logger.warn({ status, reason, peer, ...(held ? { suppressed: held } : {}) }, `request rejected with ${status}: ${message}`);
}
