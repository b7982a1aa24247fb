// A generation: one immutable, ordered set of started filters. Every request pins the generation
// that was current when it arrived and runs its whole life on it; a retired generation is let go
// (its filters' root contexts ended) when its last request finishes.

import type { WasmFilter } from '../abi/wasm-filter.js';

export class Generation {
  readonly id: number;
  readonly filters: readonly WasmFilter[];
  readonly orders: { request: readonly number[]; response: readonly number[] };
  /** Whether any filter has a body callback in that direction (decides if bodies pass the chain). */
  readonly requestBodyHooks: boolean;
  readonly responseBodyHooks: boolean;
  #refs = 0;
  #retired = false;
  #onDrained: (() => void) | null = null;

  constructor(id: number, filters: readonly WasmFilter[]) {
    this.id = id;
    this.filters = filters;
    const request = filters.map((_, i) => i);
    this.orders = { request, response: [...request].reverse() };
    this.requestBodyHooks = filters.some((f) => f.hooks.requestBody);
    this.responseBodyHooks = filters.some((f) => f.hooks.responseBody);
  }

  get inFlight(): number {
    return this.#refs;
  }

  acquire(): this {
    this.#refs++;
    return this;
  }

  release(): void {
    if (--this.#refs === 0 && this.#retired) this.#drained();
  }

  /** No new request will use this generation; `onDrained` runs once the in-flight ones finish. */
  retire(onDrained: () => void): void {
    this.#retired = true;
    this.#onDrained = onDrained;
    if (this.#refs === 0) this.#drained();
  }

  #drained(): void {
    const cb = this.#onDrained;
    this.#onDrained = null;
    cb?.();
  }
}
