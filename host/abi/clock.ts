// Where a filter's instance reads the time and schedules proxy_on_tick. The proxy uses the system
// clock; the test harness (host/testing) passes a virtual one, so a test can run a minute of ticks
// in a millisecond and see exactly the ticks it asked for.

export interface TickTimer {
  cancel(): void;
}

export interface Clock {
  /** Wall-clock time in nanoseconds since the epoch (proxy_get_current_time_nanoseconds). */
  nowNs(): bigint;
  /** Calls `fn` every `ms` milliseconds until cancelled; must not keep the process alive. */
  every(ms: number, fn: () => void): TickTimer;
}

export const systemClock: Clock = {
  nowNs: () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6)),
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return { cancel: () => clearInterval(t) };
  },
};
