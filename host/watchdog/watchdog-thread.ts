// The watchdog's thread (see watchdog.ts): runs on its own event loop, reads the main thread's
// heartbeat and activity from shared memory, and ends the process when the main loop is stuck or a
// shutdown overran its deadline. Kept tiny: it must never be the thing that fails.

import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { CALLBACK, CALLBACK_NAMES, FILTER, HEARTBEAT, REQUEST, readRequestId } from './activity.js';
import type { WatchdogData, WatchdogMessage } from './watchdog.js';

const data = workerData as WatchdogData;
const shared = new Int32Array(data.buffer);
let watchdogMs = data.watchdogMs;
let names: readonly string[] = [];
let lastBeat = Atomics.load(shared, HEARTBEAT);
let lastBeatAt = performance.now();
let shutdownAt = Infinity;

/** One JSON line shaped like pino's, written synchronously (the main thread cannot write it). */
function logLine(fields: Record<string, unknown>, msg: string): void {
  const line = `${JSON.stringify({ level: 60, time: Date.now(), pid: data.pid, ...fields, msg })}\n`;
  const buf = Buffer.from(line);
  for (const fd of [data.fd, 2]) {
    try {
      let off = 0;
      // A non-blocking pipe may take part of the line or answer EAGAIN; retry a bounded number of times.
      for (let tries = 0; off < buf.length && tries < 1000; tries++) {
        try {
          off += writeSync(fd, buf, off);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        }
      }
      if (off === buf.length) return;
    } catch {
      // Try the next descriptor.
    }
  }
}

/** What the main loop was running, as the activity slots say. */
function running(): Record<string, unknown> {
  const f = shared[FILTER];
  const cb = shared[CALLBACK];
  const req = shared[REQUEST];
  if (f < 0) return { filter: null, callback: null, reqId: null, running: 'the host (no filter callback)' };
  return {
    filter: names[f] ?? `#${f}`,
    callback: CALLBACK_NAMES[cb] ?? `#${cb}`,
    reqId: req >= 0 ? readRequestId(data.requestIds, req) : null,
    running: 'a filter callback',
  };
}

function end(): never {
  process.kill(data.pid, 'SIGKILL');
  // Unreachable in practice; keep the thread from doing anything else if the kill is delayed.
  for (;;) Atomics.wait(shared, HEARTBEAT, Atomics.load(shared, HEARTBEAT), 1000);
}

function check(): void {
  const now = performance.now();
  const beat = Atomics.load(shared, HEARTBEAT);
  if (beat !== lastBeat) {
    lastBeat = beat;
    lastBeatAt = now;
  }
  const blockedMs = Math.round(now - lastBeatAt);
  if (watchdogMs > 0 && blockedMs > watchdogMs) {
    const r = running();
    logLine(
      { code: 'OUTRIGGER_WATCHDOG', blockedMs, watchdogMs, ...r },
      `event loop blocked for ${blockedMs} ms (watchdog_ms ${watchdogMs}) by ${r.filter ? `filter ${r.filter} in ${r.callback}` : 'the host'}; ending the process (SIGKILL) so it can be restarted`,
    );
    end();
  }
  if (now > shutdownAt) {
    logLine(
      { code: 'OUTRIGGER_SHUTDOWN_DEADLINE', blockedMs, ...running() },
      'shutdown did not finish within drain_timeout_ms plus the grace; ending the process (SIGKILL)',
    );
    end();
  }
}

parentPort?.on('message', (m: WatchdogMessage) => {
  if (m.type === 'names') names = m.names;
  else if (m.type === 'config') {
    watchdogMs = m.watchdogMs;
    lastBeatAt = performance.now();
  } else if (m.type === 'shutdown') shutdownAt = Math.min(shutdownAt, performance.now() + m.deadlineMs);
});
setInterval(check, data.tickMs);
