// The admin API (fastify): health, readiness, the filters and their state, reload. Listens on
// loopback by default: it shows filter internals and can change what runs.

import { MetricType } from '../../abi/enums.js';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { FilterManager, FilterSlot } from '../filters/filter-manager.js';
import type { ReloadResult } from '../filters/reloader.js';

export interface AdminDeps {
  logger: Logger;
  manager: FilterManager;
  /** null when the upstream accepts connections, else why not. */
  probe: () => Promise<string | null>;
  /** Whether start-up finished (config loaded, every filter started). */
  started: () => boolean;
  /** Re-reads config and filters; answers what changed. */
  reload: () => Promise<ReloadResult>;
  stats: () => Record<string, number>;
}

/**
 * One state per filter: the last load attempt's (rejected, missing) when it failed, else what the
 * serving version is doing (active, degraded, open).
 */
function filterState(s: FilterSlot): string {
  return s.state === 'active' ? s.filter.healthState : s.state;
}

export function buildAdminServer(deps: AdminDeps): FastifyInstance {
  // Probes hit the admin API every few seconds: its per-request lines would drown the proxy's own.
  const app = Fastify({ loggerInstance: deps.logger.child({ component: 'admin' }, { level: 'warn' }) as FastifyBaseLogger });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const problems: string[] = [];
    if (!deps.started()) problems.push('starting');
    for (const s of deps.manager.slots) if (!s.filter.healthy) problems.push(`filter ${s.entry.name} failed: ${s.filter.lastError}`);
    const upstream = await deps.probe();
    if (upstream !== null) problems.push(`upstream unreachable: ${upstream}`);
    reply.code(problems.length ? 503 : 200);
    return problems.length ? { status: 'not ready', problems } : { status: 'ready' };
  });

  app.get('/filters', async () => {
    const gen = deps.manager.current;
    return {
      generation: gen.id,
      filters: deps.manager.slots.map((s) => ({
        name: s.entry.name,
        file: s.entry.path,
        sha256: s.sha256,
        abi: s.abi,
        generation: s.generation,
        loaded_at: s.loadedAt.toISOString(),
        state: filterState(s),
        last_error: s.lastError ?? s.filter.lastError,
        on_error: s.filter.policy,
        traps: s.filter.traps,
        faults: { ...s.filter.faults },
        backtrace: s.filter.lastBacktrace,
        unknown_imports: s.filter.unknownImports,
        retry_at: s.filter.retryAt?.toISOString() ?? null,
        live_instances: s.filter.liveInstances,
        memory_bytes: s.filter.memoryBytes,
      })),
    };
  });

  app.post('/reload', async (_req, reply) => {
    const result = await deps.reload();
    if (result.error) reply.code(422);
    return result;
  });

  app.get('/metrics', async (_req, reply) => {
    reply.type('text/plain; version=0.0.4');
    return prometheusText(deps);
  });

  app.get('/stats', async () => ({ ...deps.stats(), generation: deps.manager.current.id, live_generations: deps.manager.liveGenerations }));

  return app;
}

/** Prometheus text exposition of the counters and of each filter's state. */
function prometheusText(deps: AdminDeps): string {
  const st = deps.stats();
  const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  const out: string[] = [];
  const metric = (name: string, type: string, help: string, rows: [string, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of rows) out.push(`${name}${labels} ${v}`);
  };
  metric('outrigger_requests_total', 'counter', 'Requests received on the proxy listener.', [['', st.requests ?? 0]]);
  metric('outrigger_upstream_errors_total', 'counter', 'Requests answered 502/504 because the upstream failed.', [['', st.upstreamErrors ?? 0]]);
  metric('outrigger_local_replies_total', 'counter', 'Requests answered by a filter (or a failed filter) instead of the upstream.', [
    ['', st.localReplies ?? 0],
  ]);
  metric('outrigger_filter_faults_total', 'counter', 'Requests during which a filter trapped.', [['', st.filterFaults ?? 0]]);
  metric('outrigger_in_flight_requests', 'gauge', 'Requests in progress.', [['', st.inFlight ?? 0]]);
  metric('outrigger_generation', 'gauge', 'Id of the filter generation new requests run on.', [['', deps.manager.current.id]]);
  metric('outrigger_live_generations', 'gauge', 'Generations still serving requests (the current one included).', [['', deps.manager.liveGenerations]]);
  const slots = deps.manager.slots;
  metric(
    'outrigger_filter_traps_total',
    'counter',
    'Traps, aborts and proc_exit of a filter.',
    slots.map((sl) => [`{filter="${label(sl.entry.name)}"}`, sl.filter.traps]),
  );
  metric(
    'outrigger_filter_memory_bytes',
    'gauge',
    "Linear memory of a filter's live instance.",
    slots.map((sl) => [`{filter="${label(sl.entry.name)}"}`, sl.filter.memoryBytes]),
  );
  metric(
    'outrigger_filter_info',
    'gauge',
    'The version of each filter that serves, and its state (active, degraded, open, rejected, missing).',
    slots.map((sl) => [`{filter="${label(sl.entry.name)}",sha256="${sl.sha256}",abi="${sl.abi}",generation="${sl.generation}",state="${filterState(sl)}"}`, 1]),
  );
  const defined = deps.manager.metrics.all();
  const byType = (t: number) => defined.filter((m) => m.type === t);
  const key = (m: { filter: string; name: string }) => `{filter="${label(m.filter)}",name="${label(m.name)}"}`;
  metric(
    'outrigger_filter_counter_total',
    'counter',
    'Counters filters defined with proxy_define_metric.',
    byType(MetricType.Counter).map((m) => [key(m), Number(m.value)]),
  );
  metric(
    'outrigger_filter_gauge',
    'gauge',
    'Gauges filters defined with proxy_define_metric.',
    byType(MetricType.Gauge).map((m) => [key(m), Number(m.value)]),
  );
  const hist = byType(MetricType.Histogram);
  metric(
    'outrigger_filter_histogram_sum',
    'counter',
    'Sum of the values recorded in filter-defined histograms.',
    hist.map((m) => [key(m), Number(m.value)]),
  );
  metric(
    'outrigger_filter_histogram_count',
    'counter',
    'Number of values recorded in filter-defined histograms.',
    hist.map((m) => [key(m), Number(m.count)]),
  );
  return `${out.join('\n')}\n`;
}
