// The admin API (fastify): health, readiness, the filters and their state, reload. Listens on
// loopback by default: it shows filter internals and can change what runs.

import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { CallbackTimings } from '../chain/callback-timings.js';
import { type FilterManager, shownState } from '../filters/filter-manager.js';
import type { ReloadResult } from '../filters/reloader.js';
import { readinessProblems } from './readiness.js';
import { buildMetrics } from './metrics.js';
import type { ClusterRegistry } from './clusters.js';

export interface AdminDeps {
  logger: Logger;
  manager: FilterManager;
  /** null when the upstream accepts connections, else why not. */
  probe: () => Promise<string | null>;
  /** Whether start-up finished (config loaded, every filter started). */
  started: () => boolean;
  /** Whether shutdown has begun (in-flight requests are draining). */
  draining?: () => boolean;
  /** Re-reads config and filters; answers what changed. */
  reload: () => Promise<ReloadResult>;
  stats: () => Record<string, number>;
  /** Callback latencies for /metrics (null: not kept). */
  timings?: CallbackTimings | null;
  /** The `clusters:` pools, for their call counts on /metrics. */
  clusters?: ClusterRegistry | null;
}

export function buildAdminServer(deps: AdminDeps): FastifyInstance {
  // Probes hit the admin API every few seconds: its per-request lines would drown the proxy's own.
  const app = Fastify({ loggerInstance: deps.logger.child({ component: 'admin' }, { level: 'warn' }) as FastifyBaseLogger });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const upstream = await deps.probe();
    const problems = readinessProblems({ started: deps.started(), draining: deps.draining?.() ?? false, slots: deps.manager.slots, upstream });
    reply.code(problems.length ? 503 : 200);
    return problems.length ? { status: 'not ready', problems } : { status: 'ready' };
  });

  const listing = (kind: 'filter' | 'service' | null) => {
    const gen = deps.manager.current;
    return {
      generation: gen.id,
      filters: deps.manager.slots
        .filter((s) => kind === null || s.kind === kind)
        .map((s) => ({
          name: s.entry.name,
          kind: s.kind,
          file: s.entry.path,
          sha256: s.sha256,
          abi: s.abi,
          generation: s.generation,
          loaded_at: s.loadedAt.toISOString(),
          state: shownState(s),
          last_error: s.lastError ?? s.filter.lastError,
          on_error: s.filter.policy,
          traps: s.filter.traps,
          faults: { ...s.filter.faults },
          backtrace: s.filter.lastBacktrace,
          unknown_imports: s.filter.unknownImports,
          retry_at: s.filter.retryAt?.toISOString() ?? null,
          live_instances: s.filter.liveInstances,
          memory_bytes: s.filter.memoryBytes,
          // The filters and services on the same instance (one vm_id and file), itself included.
          shared_with: s.filter.sharedWith,
        })),
    };
  };
  // Chain filters and services (kind says which), in config order; /services lists only the services.
  app.get('/filters', async () => listing(null));
  app.get('/services', async () => {
    const { generation, filters } = listing('service');
    return { generation, services: filters };
  });

  app.post('/reload', async (_req, reply) => {
    const result = await deps.reload();
    if (result.error) reply.code(422);
    return result;
  });

  const metrics = buildMetrics({ manager: deps.manager, stats: deps.stats, timings: deps.timings ?? null, clusters: deps.clusters ?? null });
  app.get('/metrics', async (_req, reply) => {
    reply.type(metrics.contentType);
    return metrics.text();
  });

  app.get('/stats', async () => ({ ...deps.stats(), generation: deps.manager.current.id, live_generations: deps.manager.liveGenerations }));

  return app;
}
