// How long each filter's callbacks take, per filter and callback kind, for the
// outrigger_filter_callback_duration_seconds histogram on /metrics.
//
// Recorded by hand into fixed buckets rather than with prom-client's Histogram#observe: measured on
// this machine (node 20), a labelled child's observe() costs ~900 ns (it validates and hashes the
// labels on every call), against ~10 ns for the bucket count below and ~130 ns for the two
// performance.now() reads. A request through three filters makes ten or more callbacks, so observe()
// alone would add ~10 us per request. The counts are turned into a real Prometheus histogram only when
// /metrics is scraped (host/http/metrics.ts).
//
// Sampling (`callback_timing_sample: N`, 1 = all, 0 = off): the clock reads are what costs. Timing
// every callback measured ~6 us a request under load (three filters, ~12 callbacks: 24 clock reads,
// each ~85 ns warm and more once the request's other work has evicted their cache lines), so by
// default one callback in DEFAULT_CALLBACK_TIMING_SAMPLE is timed. Each callback is picked on its own
// with probability 1/N from a xorshift32 generator (a few ns, no allocation), not every Nth callback
// of the process: the chain makes its callbacks in a fixed order (context_create, request_headers,
// response_headers, log for each filter), so a periodic pick aliases with it and can time one filter's
// one callback kind only, for ever. A picked callback counts N times in _count, in its bucket and in
// _sum, so every series is an unbiased estimate of all its callbacks (a multiple of N, not exact).

import type { FilterInstance } from './filter-instance.js';

/** What the chain calls a filter for: label `callback` on the histogram. */
export const CALLBACK_KINDS = [
  'context_create',
  'request_headers',
  'request_body',
  'response_headers',
  'response_body',
  'log',
  'request_trailers',
  'response_trailers',
] as const;
export type CallbackKind = (typeof CALLBACK_KINDS)[number];
export const enum Callback {
  ContextCreate = 0,
  RequestHeaders = 1,
  RequestBody = 2,
  ResponseHeaders = 3,
  ResponseBody = 4,
  /** proxy_on_log, proxy_on_done and proxy_on_delete, which the chain makes in one call. */
  Log = 5,
  RequestTrailers = 6,
  ResponseTrailers = 7,
}

/**
 * Upper bounds in seconds: 5 us (an empty callback) up to 1 s (far past any sane CPU budget, issue 11's
 * default cpu_ms is 100), roughly x2.5 per step so a p99 reads to within a bucket.
 */
export const CALLBACK_BUCKETS = [5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1];
const NB = CALLBACK_BUCKETS.length + 1; // + the +Inf bucket
const NK = CALLBACK_KINDS.length;

/** One filter's counts: bucket counts per kind (not cumulative), and sums in seconds. */
export class FilterTimings {
  readonly filter: string;
  readonly counts = new Float64Array(NK * NB);
  readonly sums = new Float64Array(NK);
  constructor(filter: string) {
    this.filter = filter;
  }

  /** weight: how many callbacks this one stands for (the sampling interval). */
  record(kind: Callback, seconds: number, weight: number): void {
    let b = 0;
    while (b < NB - 1 && seconds > CALLBACK_BUCKETS[b]) b++;
    this.counts[kind * NB + b] += weight;
    this.sums[kind] += seconds * weight;
  }
}

/** A proxy's callback timings: one FilterTimings per filter name, kept across reloads as its metrics are. */
export class CallbackTimings {
  readonly #byName = new Map<string, FilterTimings>();
  /** Chains of one generation share their filter list: look the names up once per list. */
  readonly #byList = new WeakMap<readonly FilterInstance[], FilterTimings[]>();
  /** Time one callback in N (1: all, 0: none). */
  #sample = 1;
  /** A callback is timed when the next xorshift32 value (as unsigned) is below this: 2^32 / N. */
  #threshold = 0;
  /** xorshift32 state (never 0). Seeded per proxy: no two processes pick the same callbacks. */
  #rng = (Math.random() * 0x7fffffff) | 1;

  constructor(sample = 1) {
    this.sample = sample;
  }

  set sample(n: number) {
    this.#sample = n;
    this.#threshold = n > 1 ? Math.floor(0x100000000 / n) : 0;
  }

  get sample(): number {
    return this.#sample;
  }

  filters(): IterableIterator<FilterTimings> {
    return this.#byName.values();
  }

  /** The timings of each filter of a chain, in its order. */
  forList(list: readonly FilterInstance[]): FilterTimings[] {
    let t = this.#byList.get(list);
    if (t === undefined) {
      t = list.map((f) => {
        let ft = this.#byName.get(f.name);
        if (ft === undefined) this.#byName.set(f.name, (ft = new FilterTimings(f.name)));
        return ft;
      });
      this.#byList.set(list, t);
    }
    return t;
  }

  /** A start time (ms) for this callback, or -1 when it is not sampled. */
  begin(): number {
    const n = this.#sample;
    if (n === 1) return performance.now();
    if (n === 0) return -1;
    let x = this.#rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#rng = x;
    return x >>> 0 < this.#threshold ? performance.now() : -1;
  }

  /**
   * Ends a callback begun with begin() (start >= 0). A sampled callback counts for the N it stands for
   * (picked with probability 1/N), so _count, the buckets and _sum estimate all callbacks without bias.
   */
  end(t: FilterTimings, kind: Callback, start: number): void {
    t.record(kind, (performance.now() - start) / 1000, this.#sample || 1);
  }
}
