// The last fence for the process (README "Watchdog"). A worker thread, whose event loop a blocked
// main loop cannot stop, watches a heartbeat the main thread bumps from a timer. When the main loop
// has not bumped it for longer than `watchdog_ms`, the thread logs what was running (filter,
// callback, request id: watchdog/activity.ts) and ends the process, so the orchestrator restarts
// it. It also enforces the shutdown deadline: once a SIGTERM/SIGINT drain starts, the process ends
// after drain_timeout_ms plus SHUTDOWN_GRACE_MS whatever the main loop is doing.
//
// Why a thread rather than a timer: a timer on the blocked loop never fires. Why SIGKILL: a worker
// cannot exit the process with a code of its own (process.exit in a worker ends only the worker),
// and any catchable signal would be handled by the blocked loop, i.e. never. The line is written
// with fs.writeSync before the kill, so it is not lost.

import { Worker } from 'node:worker_threads';
import { SHUTDOWN_GRACE_MS, WATCHDOG_MAX_TICK_MS, WATCHDOG_MIN_TICK_MS } from '../limits.js';
import { activity, activityBuffer, HEARTBEAT, requestIdBuffer, watchFilterNames } from './activity.js';

/** Messages to the thread. */
export type WatchdogMessage = { type: 'names'; names: readonly string[] } | { type: 'config'; watchdogMs: number } | { type: 'shutdown'; deadlineMs: number };

export interface WatchdogData {
  buffer: SharedArrayBuffer;
  watchdogMs: number;
  tickMs: number;
  pid: number;
  requestIds: SharedArrayBuffer;
  /** File descriptor the log line goes to (the logger's: stdout). */
  fd: number;
}

/** Heartbeat and check period: fine enough to fire near watchdog_ms, coarse enough to cost nothing. */
export function watchdogTickMs(watchdogMs: number): number {
  return Math.min(WATCHDOG_MAX_TICK_MS, Math.max(WATCHDOG_MIN_TICK_MS, Math.floor(watchdogMs / 10)));
}

export class Watchdog {
  readonly #worker: Worker;
  readonly #beat: NodeJS.Timeout;

  readonly #watchdogMs: number;

  /**
   * Starts the thread with the loop check disarmed (see arm()); the shutdown deadline works at once.
   */
  constructor(watchdogMs: number, fd = 1) {
    this.#watchdogMs = watchdogMs;
    const tickMs = watchdogTickMs(watchdogMs || 1000);
    const data: WatchdogData = { buffer: activityBuffer, watchdogMs: 0, tickMs, pid: process.pid, requestIds: requestIdBuffer, fd };
    this.#worker = new Worker(new URL('./watchdog-thread.js', import.meta.url), { workerData: data });
    // Neither the thread nor the timer may keep a finished process alive.
    this.#worker.unref();
    this.#beat = setInterval(() => Atomics.add(activity, HEARTBEAT, 1), tickMs);
    this.#beat.unref();
    watchFilterNames((names) => this.#post({ type: 'names', names: [...names] }));
  }

  /**
   * Arms the loop check, once the proxy is ready. Not before: start-up compiles and instruments
   * filters synchronously (binaryen's first load alone blocked the loop 2.5 s on the shared CI
   * machine), and a filter's own start-up is bounded by its limits.start_ms.
   */
  arm(): void {
    this.configure(this.#watchdogMs);
  }

  /** A reload changed watchdog_ms (0 turns the loop check off; the shutdown deadline stays). */
  configure(watchdogMs: number): void {
    this.#post({ type: 'config', watchdogMs });
  }

  /** Shutdown started: end the process if it is still alive after drainTimeoutMs plus the grace. */
  shutdownStarted(drainTimeoutMs: number): void {
    this.#post({ type: 'shutdown', deadlineMs: drainTimeoutMs + SHUTDOWN_GRACE_MS });
  }

  #post(m: WatchdogMessage): void {
    this.#worker.postMessage(m);
  }

  close(): void {
    clearInterval(this.#beat);
    watchFilterNames(null);
    void this.#worker.terminate();
  }
}
