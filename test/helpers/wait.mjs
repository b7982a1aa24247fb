// Polling for what happens after a response: log lines, reloads, counters. Fails with what it was
// waiting for rather than hanging the suite.

/** Resolves with fn()'s first truthy value (fn may be async); rejects after `ms`. */
export async function until(fn, what, ms = 5000) {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
