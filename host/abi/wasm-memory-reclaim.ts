// Giving a dropped instance's linear memory back to the system promptly.
//
// Why: wasm memory is freed only when V8 collects its WebAssembly.Memory, at a major GC, and V8
// keeps it outside its heap, so dropping even a 64 MiB memory never starts one. Measured with
// bench/sandbox.mjs (memory_mb 64): after a memory bomb's instance was replaced the proxy's RSS
// stayed at its peak (248 MiB) until a gc was forced over the inspector, which brought it back to
// the 184 MiB it had before the bomb; the same after an idle leaking instance was recycled (235 ->
// 182 MiB). Nothing else held the memory: on a quiet proxy it simply waited for the next major GC,
// which can be minutes away. So once instances with RECLAIM_MIN_BYTES of memory between them have
// been dropped, one major GC is run from a timer (off any request's callbacks), at most one per
// RECLAIM_MIN_INTERVAL_MS. It pauses the event loop like any major GC (~40 ms of CPU with 21 filters
// loaded in that benchmark; the log line gives each one's figure), a GC V8 would have made anyway at
// some point, brought forward; it happens only after a fault, a recycle or a reload released that much.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from 'pino';
import { RECLAIM_DELAY_MS, RECLAIM_MIN_BYTES, RECLAIM_MIN_INTERVAL_MS } from '../limits.js';

/** V8's gc(), undefined until first needed, null where it cannot be had. */
let gcFn: (() => void) | null | undefined;

/**
 * globalThis.gc under --expose-gc; otherwise the flag is set for one new context, whose global `gc`
 * is the same collector (the flag is cleared again, so no later context gets it).
 */
function majorGc(): (() => void) | null {
  if (gcFn !== undefined) return gcFn;
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return (gcFn = g);
  try {
    setFlagsFromString('--expose-gc');
    const f = runInNewContext('gc');
    setFlagsFromString('--no-expose-gc');
    gcFn = typeof f === 'function' ? (f as () => void) : null;
  } catch {
    gcFn = null;
  }
  return gcFn;
}

let pendingBytes = 0;
let timer: NodeJS.Timeout | null = null;
/** performance.now() of the last collection run here. */
let lastAt = Number.NEGATIVE_INFINITY;
let log: Logger | null = null;

/** An instance with `bytes` of linear memory was dropped (no reference to its Memory remains). */
export function wasmMemoryReleased(bytes: number, logger: Logger): void {
  pendingBytes += bytes;
  log = logger;
  if (pendingBytes < RECLAIM_MIN_BYTES || timer !== null) return;
  timer = setTimeout(collect, Math.max(RECLAIM_DELAY_MS, lastAt + RECLAIM_MIN_INTERVAL_MS - performance.now()));
  timer.unref();
}

function collect(): void {
  timer = null;
  const gc = majorGc();
  if (gc === null) return;
  const bytes = pendingBytes;
  pendingBytes = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  gc();
  const cpu = process.cpuUsage(c0);
  lastAt = performance.now();
  const ms = (x: number) => Math.round(x * 10) / 10;
  log?.info(
    { code: 'OUTRIGGER_WASM_MEMORY_RECLAIMED', releasedBytes: bytes, gcMs: ms(lastAt - t0), gcCpuMs: ms((cpu.user + cpu.system) / 1000) },
    'major gc after dropped filter instances, so their wasm memory goes back to the system',
  );
}
