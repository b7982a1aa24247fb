// The crash-loop breaker of one filter: decides, after each fault, how long to wait before the next
// fresh instance, and when the filter has faulted so often that it must not run at all for a while.
// Pure bookkeeping over timestamps (no timers, no VMs), so its rules read in one place:
//  - a fault with no other in the last window_ms is replaced at once (one bad request costs one
//    request); each further fault in the window doubles the wait before the next replacement,
//    from backoff_ms up to max_backoff_ms (a filter that keeps faulting is not rebuilt in a loop);
//  - max_faults faults within window_ms open the breaker: on_error applies without running the
//    filter until retry time; then one request goes through to a fresh instance (half-open); its
//    success closes the breaker, a fault reopens it with the wait doubled.

export interface BreakerConfig {
  maxFaults: number;
  windowMs: number;
  backoffMs: number;
  maxBackoffMs: number;
}

export type BreakerState = 'closed' | 'open' | 'half_open';

export class CrashBreaker {
  readonly config: BreakerConfig;
  #faults: number[] = [];
  #state: BreakerState = 'closed';
  /** When the open breaker lets a trial request through (ms since the epoch), or 0. */
  #retryAt = 0;
  /** Consecutive openings without a successful trial: the exponent of the open wait. */
  #opens = 0;

  constructor(config: BreakerConfig) {
    this.config = config;
  }

  get state(): BreakerState {
    return this.#state;
  }

  get retryAt(): number {
    return this.#retryAt;
  }

  /** Faults within the current window. */
  recentFaults(now: number): number {
    this.#prune(now);
    return this.#faults.length;
  }

  #prune(now: number): void {
    const from = now - this.config.windowMs;
    let i = 0;
    while (i < this.#faults.length && this.#faults[i] <= from) i++;
    if (i) this.#faults.splice(0, i);
  }

  #wait(exponent: number): number {
    const { backoffMs, maxBackoffMs } = this.config;
    return Math.min(maxBackoffMs, backoffMs * 2 ** Math.min(exponent, 30));
  }

  /** A fault happened. Returns how long to wait before a fresh instance (meaningless when open). */
  fault(now: number): number {
    this.#prune(now);
    this.#faults.push(now);
    if (this.#state === 'half_open' || this.#faults.length >= this.config.maxFaults) {
      this.#state = 'open';
      const wait = this.#wait(this.#opens);
      this.#opens++;
      this.#retryAt = now + wait;
      return wait;
    }
    const n = this.#faults.length;
    return n <= 1 ? 0 : this.#wait(n - 2);
  }

  /** Open and its retry time has come: the caller lets one request through (now half-open). */
  tryHalfOpen(now: number): boolean {
    if (this.#state !== 'open' || now < this.#retryAt) return false;
    this.#state = 'half_open';
    return true;
  }

  /** The half-open trial request finished without a fault: back to normal. */
  trialSucceeded(): void {
    if (this.#state !== 'half_open') return;
    this.#state = 'closed';
    this.#faults = [];
    this.#opens = 0;
    this.#retryAt = 0;
  }
}
