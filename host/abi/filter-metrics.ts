// Metrics that filters define (proxy_define_metric and friends), kept per filter name so they survive
// instance restarts and hot swaps, as Envoy's stats outlive its VMs. Exported on /metrics.

import { MetricType, WasmResult } from '../../abi/enums.js';

export interface FilterMetric {
  filter: string;
  name: string;
  type: MetricType;
  /** Counter or gauge value; for a histogram, the sum of recorded values. */
  value: bigint;
  /** Histogram: number of recorded values. */
  count: bigint;
}

/** Metrics a single filter may define: more is a runaway loop, not instrumentation. */
const MAX_METRICS_PER_FILTER = 1000;

export class MetricRegistry {
  readonly #metrics: FilterMetric[] = [];
  readonly #byKey = new Map<string, number>();
  readonly #perFilter = new Map<string, number>();

  /** Returns the metric id (type in the low 2 bits, as Envoy), or a WasmResult error as a negative number. */
  define(filter: string, type: number, name: string): number {
    if (type < MetricType.Counter || type > MetricType.Histogram) return -WasmResult.BadArgument;
    const key = `${filter}\0${type}\0${name}`;
    let index = this.#byKey.get(key);
    if (index === undefined) {
      const n = this.#perFilter.get(filter) ?? 0;
      if (n >= MAX_METRICS_PER_FILTER) return -WasmResult.InternalFailure;
      this.#perFilter.set(filter, n + 1);
      index = this.#metrics.length;
      this.#metrics.push({ filter, name, type, value: 0n, count: 0n });
      this.#byKey.set(key, index);
    }
    return (index << 2) | type;
  }

  /** The metric behind an id, only for the filter that defined it. */
  #get(filter: string, id: number): FilterMetric | undefined {
    const m = this.#metrics[id >>> 2];
    return m !== undefined && m.filter === filter && m.type === (id & 3) ? m : undefined;
  }

  increment(filter: string, id: number, delta: bigint): number {
    const m = this.#get(filter, id);
    if (!m) return WasmResult.NotFound;
    if (m.type === MetricType.Histogram) return WasmResult.BadArgument;
    if (m.type === MetricType.Counter && delta <= 0n) return WasmResult.BadArgument;
    m.value += delta;
    return WasmResult.Ok;
  }

  record(filter: string, id: number, value: bigint): number {
    const m = this.#get(filter, id);
    if (!m) return WasmResult.NotFound;
    if (m.type === MetricType.Gauge) m.value = value;
    else {
      // Envoy adds to a counter; a histogram keeps count and sum.
      m.value += value;
      if (m.type === MetricType.Histogram) m.count++;
    }
    return WasmResult.Ok;
  }

  /** Value of a counter or gauge; undefined for an unknown id, null for a histogram. */
  value(filter: string, id: number): bigint | null | undefined {
    const m = this.#get(filter, id);
    if (!m) return undefined;
    return m.type === MetricType.Histogram ? null : m.value;
  }

  all(): readonly FilterMetric[] {
    return this.#metrics;
  }
}
