// /metrics: one prom-client registry per proxy. The process and Node.js defaults (CPU, memory, event
// loop lag, GC) come from prom-client's collectors; Outrigger's own families read the proxy's state
// when scraped (counters kept elsewhere, each filter's state, faults and memory), so nothing on the
// request path touches prom-client. Callback latencies are counted by host/chain/callback-timings.ts
// and exported here as a real histogram.

import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { MetricType } from '../../abi/enums.js';
import { CALLBACK_BUCKETS, CALLBACK_KINDS, type CallbackTimings } from '../chain/callback-timings.js';
import { FAULT_KINDS } from '../chain/filter-instance.js';
import { type FilterManager, shownState } from '../filters/filter-manager.js';
import { rejectionCounts } from './rejections.js';
import { HTTP_CALL_OUTCOMES, type ClusterRegistry } from './clusters.js';

export interface MetricsDeps {
  manager: FilterManager;
  stats: () => Record<string, number>;
  timings: CallbackTimings | null;
  /** The `clusters:` pools (null: none kept). */
  clusters?: ClusterRegistry | null;
}

/** Every state a filter can be in on /metrics (outrigger_filter_state): the manager's, then the instance's. */
const FILTER_STATES = ['active', 'degraded', 'open', 'rejected', 'missing'] as const;

type Labels = Record<string, string>;

/** A counter whose value is kept elsewhere: read on each scrape. */
function readCounter(reg: Registry, name: string, help: string, labelNames: string[], read: (emit: (labels: Labels, v: number) => void) => void) {
  return new Counter({
    name,
    help,
    labelNames,
    registers: [reg],
    collect() {
      this.reset();
      read((labels, v) => this.inc(labels, v));
    },
  });
}

function readGauge(reg: Registry, name: string, help: string, labelNames: string[], read: (emit: (labels: Labels, v: number) => void) => void) {
  return new Gauge({
    name,
    help,
    labelNames,
    registers: [reg],
    collect() {
      this.reset();
      read((labels, v) => this.set(labels, v));
    },
  });
}

interface MetricValue {
  labels: Labels;
  value: number;
  metricName?: string;
}

/**
 * outrigger_filter_callback_duration_seconds: a Prometheus histogram built from CallbackTimings' counts
 * at scrape time. Registered as a metric object of prom-client's registry (name, help, type, get()),
 * which formats it like its own Histogram.
 */
class CallbackHistogram {
  readonly name = 'outrigger_filter_callback_duration_seconds';
  readonly help =
    'Time spent in a filter callback as the chain makes it, per filter and callback (log: proxy_on_log, on_done and on_delete together). With callback_timing_sample N, one callback in N, picked at random, is timed and counts for N (default 16).';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #timings: CallbackTimings;
  constructor(timings: CallbackTimings) {
    this.#timings = timings;
  }

  get() {
    const values: MetricValue[] = [];
    const nb = CALLBACK_BUCKETS.length + 1;
    for (const t of this.#timings.filters())
      for (let k = 0; k < CALLBACK_KINDS.length; k++) {
        const labels = { filter: t.filter, callback: CALLBACK_KINDS[k] };
        let acc = 0;
        for (let b = 0; b < nb; b++) {
          acc += t.counts[k * nb + b];
          const le = b < CALLBACK_BUCKETS.length ? String(CALLBACK_BUCKETS[b]) : '+Inf';
          values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: acc });
        }
        values.push({ metricName: `${this.name}_sum`, labels, value: t.sums[k] });
        values.push({ metricName: `${this.name}_count`, labels, value: acc });
      }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

export interface Metrics {
  registry: Registry;
  contentType: string;
  text(): Promise<string>;
}

export function buildMetrics(deps: MetricsDeps): Metrics {
  const reg = new Registry();
  collectDefaultMetrics({ register: reg });
  const stat = (k: string) => deps.stats()[k] ?? 0;
  const slots = () => deps.manager.slots;

  // The families the hand-written exposition had, same names and meaning.
  readCounter(reg, 'outrigger_requests_total', 'Requests received on the proxy listener.', [], (e) => e({}, stat('requests')));
  readCounter(reg, 'outrigger_upstream_errors_total', 'Requests answered 502/504 because the upstream failed.', [], (e) => e({}, stat('upstreamErrors')));
  readCounter(reg, 'outrigger_local_replies_total', 'Requests answered by a filter (or a failed filter) instead of the upstream.', [], (e) =>
    e({}, stat('localReplies')),
  );
  // Counts requests, not faults (one fault can fail many requests); faults by kind are
  // outrigger_filter_instance_faults_total.
  readCounter(reg, 'outrigger_filter_faults_total', 'Requests during which a filter trapped.', [], (e) => e({}, stat('filterFaults')));
  readGauge(reg, 'outrigger_in_flight_requests', 'Requests in progress.', [], (e) => e({}, stat('inFlight')));
  readGauge(reg, 'outrigger_generation', 'Id of the filter generation new requests run on.', [], (e) => e({}, deps.manager.current.id));
  readGauge(reg, 'outrigger_live_generations', 'Generations still serving requests (the current one included).', [], (e) =>
    e({}, deps.manager.liveGenerations),
  );
  readCounter(reg, 'outrigger_filter_traps_total', 'Traps, aborts and proc_exit of a filter.', ['filter'], (e) => {
    for (const s of slots()) e({ filter: s.entry.name }, s.filter.traps);
  });
  readGauge(reg, 'outrigger_filter_memory_bytes', "Linear memory of a filter's live instance.", ['filter'], (e) => {
    for (const s of slots()) e({ filter: s.entry.name }, s.filter.memoryBytes);
  });
  readGauge(
    reg,
    'outrigger_filter_info',
    'The version of each filter that serves, and its state (active, rejected, missing, failed).',
    ['filter', 'sha256', 'abi', 'generation', 'state'],
    (e) => {
      for (const s of slots()) e({ filter: s.entry.name, sha256: s.sha256, abi: s.abi, generation: String(s.generation), state: shownState(s) }, 1);
    },
  );

  // Per filter: the sandbox's view (issue 11).
  readCounter(
    reg,
    'outrigger_filter_instance_faults_total',
    "Deaths of a filter's instance by kind: trap (trap or abort), deadline (CPU budget), memory (trap at the memory cap), exit (proc_exit).",
    ['filter', 'kind'],
    (e) => {
      for (const s of slots()) for (const kind of FAULT_KINDS) e({ filter: s.entry.name, kind }, s.filter.faults[kind]);
    },
  );
  readCounter(
    reg,
    'outrigger_filter_deadline_hits_total',
    'Callbacks of a filter stopped for running over their CPU budget (cpu_ms or start_ms).',
    ['filter'],
    (e) => {
      for (const s of slots()) e({ filter: s.entry.name }, s.filter.faults.deadline);
    },
  );
  readGauge(
    reg,
    'outrigger_filter_state',
    "A filter's state, 1 for the one it is in: active, degraded (an instance died, a fresh one is coming), open (crash-loop breaker open), rejected or missing (the last good version serves).",
    ['filter', 'state'],
    (e) => {
      for (const s of slots()) {
        const now = shownState(s);
        for (const state of FILTER_STATES) e({ filter: s.entry.name, state }, state === now ? 1 : 0);
      }
    },
  );
  // Background services (`services:`) are slots like filters, so every outrigger_filter_* series
  // above has them under their name; this one says which names are services and what they do.
  readGauge(
    reg,
    'outrigger_service_info',
    'Each background service (services:) and its state (active, degraded, open, rejected, missing).',
    ['service', 'state'],
    (e) => {
      for (const s of slots()) if (s.kind === 'service') e({ service: s.entry.name, state: shownState(s) }, 1);
    },
  );
  if (deps.timings !== null) reg.registerMetric(new CallbackHistogram(deps.timings) as never);

  // Filter-defined metrics (proxy_define_metric), as before.
  const defined = (t: MetricType) => deps.manager.metrics.all().filter((m) => m.type === t);
  const key = (m: { filter: string; name: string }) => ({ filter: m.filter, name: m.name });
  readCounter(reg, 'outrigger_filter_counter_total', 'Counters filters defined with proxy_define_metric.', ['filter', 'name'], (e) => {
    for (const m of defined(MetricType.Counter)) e(key(m), Number(m.value));
  });
  readGauge(reg, 'outrigger_filter_gauge', 'Gauges filters defined with proxy_define_metric.', ['filter', 'name'], (e) => {
    for (const m of defined(MetricType.Gauge)) e(key(m), Number(m.value));
  });
  readCounter(reg, 'outrigger_filter_histogram_sum', 'Sum of the values recorded in filter-defined histograms.', ['filter', 'name'], (e) => {
    for (const m of defined(MetricType.Histogram)) e(key(m), Number(m.value));
  });
  readCounter(reg, 'outrigger_filter_histogram_count', 'Number of values recorded in filter-defined histograms.', ['filter', 'name'], (e) => {
    for (const m of defined(MetricType.Histogram)) e(key(m), Number(m.count));
  });

  // The listener's own refusals (issue 12 point 8).
  readCounter(
    reg,
    'outrigger_listener_rejections_total',
    'Requests the listener refused before any filter ran (400, 405, 408, 413, 414, 431), by reason.',
    ['reason'],
    (e) => {
      for (const [reason, n] of rejectionCounts()) e({ reason }, n);
    },
  );

  // Filters' outbound calls (proxy_http_call) to `clusters:`.
  const clusters = deps.clusters ?? null;
  if (clusters !== null) {
    readCounter(
      reg,
      'outrigger_http_calls_total',
      'proxy_http_call calls sent to a cluster, by outcome: success (a response, any status), timeout, refused, reset, too_large (response body over the cap), cancelled (the calling request or instance went away).',
      ['cluster', 'outcome'],
      (e) => {
        for (const [cluster, st] of clusters.stats()) for (const outcome of HTTP_CALL_OUTCOMES) e({ cluster, outcome }, st.outcomes[outcome]);
      },
    );
    readGauge(reg, 'outrigger_http_calls_in_flight', 'proxy_http_call calls waiting for their response, by cluster.', ['cluster'], (e) => {
      for (const [cluster, st] of clusters.stats()) e({ cluster }, st.inFlight);
    });
  }

  return { registry: reg, contentType: reg.contentType, text: () => reg.metrics() };
}
