// A clock that moves only when the test says so: tick(ms) runs every proxy_on_tick that falls due in
// those milliseconds, in order, and proxy_get_current_time_nanoseconds reads the virtual time. A
// test of a rate limiter or a cache expiry then takes no real time and never flakes.

import type { Clock, TickTimer } from '../abi/clock.js';

interface Timer {
  period: number;
  due: number;
  fn: () => void;
  live: boolean;
}

export class VirtualClock implements Clock {
  /** Virtual milliseconds since the epoch. */
  #nowMs: number;
  readonly #timers = new Set<Timer>();

  /** `startMs`: the epoch time the clock shows at first (default: the real time now). */
  constructor(startMs = Date.now()) {
    this.#nowMs = startMs;
  }

  get nowMs(): number {
    return this.#nowMs;
  }

  nowNs(): bigint {
    return BigInt(this.#nowMs) * 1_000_000n;
  }

  every(ms: number, fn: () => void): TickTimer {
    const t: Timer = { period: ms, due: this.#nowMs + ms, fn, live: true };
    this.#timers.add(t);
    return {
      cancel: () => {
        t.live = false;
        this.#timers.delete(t);
      },
    };
  }

  /** Moves time forward by `ms`, firing each timer as many times as it falls due, earliest first. */
  advance(ms: number): number {
    const end = this.#nowMs + ms;
    let fired = 0;
    for (;;) {
      let next: Timer | null = null;
      for (const t of this.#timers) if (t.due <= end && (next === null || t.due < next.due)) next = t;
      if (next === null) break;
      this.#nowMs = next.due;
      next.due += next.period;
      fired++;
      next.fn();
    }
    this.#nowMs = end;
    return fired;
  }
}
