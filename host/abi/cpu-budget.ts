// The deadline clock of one filter instance: set around every call into the guest (wasm-vm.ts) and
// read by the budget check the loader instrumented into the module (filters/instrument.ts) when the
// check's fuel runs out. Over the deadline, the check throws DeadlineExceeded through the guest's
// frames, which ends the callback on the spot; the caller treats it like a trap.

import { BUDGET_CHECK_FUEL } from '../limits.js';
import { DeadlineExceeded } from './guest-errors.js';

/** Module and field of the host function the instrumented budget check calls when its fuel runs out. */
export const BUDGET_IMPORT_MODULE = 'outrigger';
export const BUDGET_IMPORT_NAME = 'budget_check';

export class CpuBudget {
  /** performance.now() past which the callback in progress is stopped; Infinity when none runs. */
  #deadline = Number.POSITIVE_INFINITY;
  #started = 0;
  #budgetMs = 0;
  #callback = '';

  /**
   * Starts the clock for `callback`. Returns false, and changes nothing, when a callback of this
   * instance is already timed (a guest call nested in a host call): the outer deadline bounds both.
   */
  begin(callback: string, budgetMs: number): boolean {
    if (this.#deadline !== Number.POSITIVE_INFINITY) return false;
    const now = performance.now();
    this.#started = now;
    this.#deadline = now + budgetMs;
    this.#budgetMs = budgetMs;
    this.#callback = callback;
    return true;
  }

  end(): void {
    this.#deadline = Number.POSITIVE_INFINITY;
  }

  /** The host import the instrumented module calls: throws past the deadline, else returns new fuel. */
  readonly check = (): number => {
    if (this.#deadline !== Number.POSITIVE_INFINITY) {
      const now = performance.now();
      if (now > this.#deadline) {
        const err = new DeadlineExceeded(this.#callback, this.#budgetMs, now - this.#started);
        this.#deadline = Number.POSITIVE_INFINITY;
        throw err;
      }
    }
    return BUDGET_CHECK_FUEL;
  };
}
