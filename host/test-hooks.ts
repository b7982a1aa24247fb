// Test-only hooks, inert unless OUTRIGGER_TEST_HOOKS=1 is in the environment (never set it in
// production). `x-outrigger-test-block-ms: N` on a proxied request busy-loops the main thread for N
// ms before the request is handled (with `x-outrigger-test-block-delay-ms: D`, from a timer D ms
// later, e.g. in the middle of a drain that no longer accepts connections): a stand-in for a host bug that blocks the event loop, which is
// what the watchdog test needs (a looping filter would be stopped by its CPU deadline first).

import type { IncomingMessage } from 'node:http';
import { TEST_HOOK_MAX_BLOCK_MS } from './limits.js';

export const TEST_HOOKS_ENABLED = process.env.OUTRIGGER_TEST_HOOKS === '1';

export function runTestHooks(req: IncomingMessage): void {
  const v = req.headers['x-outrigger-test-block-ms'];
  if (typeof v !== 'string') return;
  const ms = Math.min(Number(v) || 0, TEST_HOOK_MAX_BLOCK_MS);
  const delay = Number(req.headers['x-outrigger-test-block-delay-ms']) || 0;
  if (delay > 0) setTimeout(() => busy(ms), delay);
  else busy(ms);
}

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Busy on purpose: the loop must stay blocked.
  }
}
