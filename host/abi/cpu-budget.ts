// The deadline clock of one filter instance: set around every call into the guest (wasm-vm.ts) and
// read by the budget check the loader instrumented into the module (filters/instrument.ts) when the
// check's fuel runs out. Over the deadline, the check throws DeadlineExceeded through the guest's
// frames, which ends the callback on the spot; the caller treats it like a trap.

import { BUDGET_CHECK_FUEL } from '../limits.js';
import { DeadlineExceeded } from './guest-errors.js';

/** Module and field of the host function the instrumented budget check calls when its fuel runs out. */
export const BUDGET_IMPORT_MODULE = 'outrigger';
export const BUDGET_IMPORT_NAME = 'budget_check';

/**
 * The budget is CPU time, not wall time: on a loaded machine a callback can be descheduled for longer
 * than its budget without running at all, and stopping it then would fail a healthy request (the
 * suite saw this on the shared 2-core machine). Reading CPU time (getrusage) on every callback would
 * cost a syscall each; instead the wall clock (performance.now, cheap) is read at each fuel-out, and
 * only a callback still running after a quarter of its budget in wall time takes a CPU baseline;
 * from then on it is stopped once its CPU time (the wall time before the baseline, at most a
 * quarter of the budget, plus the CPU time since) reaches the budget. process.cpuUsage() counts the
 * whole process, so other threads can only make the stop earlier, never later.
 */
export class CpuBudget {
  /** A callback of this instance is being timed. */
  #active = false;
  /**
   * performance.now() when the callback in progress first ran out of fuel; -1 before. Read there and
   * not in begin(): most callbacks never run out of fuel (a few hundred checks), and a clock read on
   * every guest call cost ~0.1 µs each, ~1 µs a request for three filters (11 guest calls), paid even
   * with the sandbox off. What runs before the first fuel-out is at most BUDGET_CHECK_FUEL checks:
   * microseconds of wasm, ~10 ms at worst when every check sits in a loop around a slow host call
   * (see BUDGET_CHECK_FUEL), so a callback is still stopped within its budget plus that.
   */
  #started = -1;
  #budgetMs = 0;
  #callback = '';
  /** CPU ms of the process at the baseline, -1 before it. */
  #cpuBase = -1;
  /** Wall ms from the start to the baseline, counted as CPU (capped at a quarter of the budget). */
  #pre = 0;

  /**
   * Starts the clock for `callback`. Returns false, and changes nothing, when a callback of this
   * instance is already timed (a guest call nested in a host call): the outer deadline bounds both.
   */
  begin(callback: string, budgetMs: number): boolean {
    if (this.#active) return false;
    this.#active = true;
    this.#started = -1;
    this.#budgetMs = budgetMs;
    this.#callback = callback;
    this.#cpuBase = -1;
    return true;
  }

  end(): void {
    this.#active = false;
  }

  /** The host import the instrumented module calls: throws past the budget, else returns new fuel. */
  readonly check = (): number => {
    if (this.#active) {
      const now = performance.now();
      if (this.#started < 0) {
        this.#started = now;
        return BUDGET_CHECK_FUEL;
      }
      const wall = now - this.#started;
      const budget = this.#budgetMs;
      if (this.#cpuBase < 0) {
        if (wall >= budget / 4) {
          this.#cpuBase = cpuMs();
          this.#pre = Math.min(wall, budget / 4);
        }
      } else if (wall >= budget) {
        const used = this.#pre + (cpuMs() - this.#cpuBase);
        if (used >= budget) {
          this.#active = false;
          throw new DeadlineExceeded(this.#callback, budget, used);
        }
      }
    }
    return BUDGET_CHECK_FUEL;
  };
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
