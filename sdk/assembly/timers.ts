// Timers on top of the root context's one tick (proxy_set_tick_period_milliseconds + proxy_on_tick).
//
// proxy-wasm gives a root context a single periodic tick. `Timers` runs any number of periodic and
// one-shot timers on it: the tick period is set to the greatest common divisor of the live timers'
// periods (so each falls on a tick), and each tick fires the timers that are due by the host's
// clock (proxy_get_current_time_nanoseconds). Call `timers.tick()` from your root's onTick():
//
//   class Root extends RootContext {
//     timers: Timers = new Timers();
//     onConfigure(size: u32): bool { this.timers.every(1000, new Refresh(this)); return true; }
//     onTick(): void { this.timers.tick(); }
//   }
//
// A host tick comes late under load, never early: a timer fires on the first tick at or after its
// due time (half a tick of slack absorbs the host's rounding), a periodic one is then due one period
// after its previous due time (no drift), or one period from now when it fell more than a period behind.
import { WasmResult } from "../../abi/enums";
import { proxy_set_tick_period_milliseconds } from "./imports";
import { getCurrentTimeNanoseconds } from "./time";

/** What a timer does when it fires. Subclass it; keep what onFire needs in fields. */
export class Timer {
  onFire(): void {}
}

class Entry {
  constructor(
    public id: u32,
    public timer: Timer,
    public periodMs: u32,
    public repeat: bool,
    public dueNs: u64,
  ) {}
  cancelled: bool = false;
}

function gcd(a: u32, b: u32): u32 {
  while (b != 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

export class Timers {
  private entries: Array<Entry> = new Array<Entry>();
  private nextId: u32 = 1;
  /** The tick period last asked of the host (0: no tick). */
  periodMs: u32 = 0;
  /** The WasmResult of the last proxy_set_tick_period_milliseconds. */
  status: WasmResult = WasmResult.Ok;

  /** Fires `timer` every `periodMs` (at least 1) from now on; returns its id for cancel(). */
  every(periodMs: u32, timer: Timer): u32 {
    return this.add(periodMs, timer, true);
  }

  /** Fires `timer` once, `delayMs` (at least 1) from now; returns its id for cancel(). */
  after(delayMs: u32, timer: Timer): u32 {
    return this.add(delayMs, timer, false);
  }

  /** Stops a timer; false when it is not live (already fired once, cancelled, unknown). */
  cancel(id: u32): bool {
    for (let i = 0; i < this.entries.length; i++) {
      if (unchecked(this.entries[i]).id == id) {
        unchecked(this.entries[i]).cancelled = true;
        this.entries.splice(i, 1);
        this.retune();
        return true;
      }
    }
    return false;
  }

  /** Live timers. */
  get size(): i32 {
    return this.entries.length;
  }

  /** Fires what is due; call it from RootContext.onTick(). */
  tick(): void {
    const now = getCurrentTimeNanoseconds();
    const slack = (<u64>this.periodMs * 1_000_000) / 2;
    // A copy: a timer may add or cancel timers while it fires.
    const due = new Array<Entry>();
    for (let i = 0; i < this.entries.length; i++) {
      const e = unchecked(this.entries[i]);
      if (e.dueNs <= now + slack) due.push(e);
    }
    let changed = false;
    for (let i = 0; i < due.length; i++) {
      const e = unchecked(due[i]);
      if (e.repeat) {
        const period = <u64>e.periodMs * 1_000_000;
        e.dueNs = e.dueNs + period > now ? e.dueNs + period : now + period;
      } else {
        const at = this.entries.indexOf(e);
        if (at >= 0) this.entries.splice(at, 1);
        changed = true;
      }
    }
    if (changed) this.retune();
    // A periodic timer cancelled by one that fired before it in this tick does not fire.
    for (let i = 0; i < due.length; i++) {
      const e = unchecked(due[i]);
      if (!e.cancelled) e.timer.onFire();
    }
  }

  private add(ms: u32, timer: Timer, repeat: bool): u32 {
    const periodMs = ms == 0 ? 1 : ms;
    const id = this.nextId++;
    this.entries.push(new Entry(id, timer, periodMs, repeat, getCurrentTimeNanoseconds() + <u64>periodMs * 1_000_000));
    this.retune();
    return id;
  }

  /** Sets the host's tick to the gcd of the live periods (0 when none is left). */
  private retune(): void {
    let period: u32 = 0;
    for (let i = 0; i < this.entries.length; i++) period = gcd(period, unchecked(this.entries[i]).periodMs);
    if (period == this.periodMs) return;
    this.periodMs = period;
    this.status = <WasmResult>proxy_set_tick_period_milliseconds(period);
  }
}
