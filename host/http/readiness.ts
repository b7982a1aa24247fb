// What /readyz answers: ready only when the proxy serves its current configuration and will go on
// doing so. Not ready while starting, while draining after SIGTERM (so the load balancer stops
// sending before the listener closes), while any listed filter does not serve what the config says
// (missing or rejected file: an older version or nothing serves; breaker open: requests get its
// on_error policy), or while the upstream refuses connections. Each reason is one line of the body.

import type { FilterSlot } from '../filters/filter-manager.js';

export interface ReadinessInputs {
  started: boolean;
  draining: boolean;
  slots: readonly FilterSlot[];
  /** null when the upstream accepts connections, else why not. */
  upstream: string | null;
}

export function readinessProblems(r: ReadinessInputs): string[] {
  const problems: string[] = [];
  if (!r.started) problems.push('starting');
  if (r.draining) problems.push('draining: shutting down, finishing in-flight requests');
  for (const s of r.slots) {
    // A service counts as a filter does: ticks, queues and calls that do not run are a proxy not
    // doing what its config says.
    const name = `${s.kind === 'service' ? 'service' : 'filter'} ${s.entry.name}`;
    if (s.state === 'missing') problems.push(`${name} missing: ${s.lastError ?? 'file not found'}`);
    else if (s.state === 'rejected') problems.push(`${name} rejected: ${s.lastError ?? 'the new version failed to load'}`);
    // healthState 'open' (the breaker, see wasm-filter) when present; else the older healthy flag.
    const f = s.filter as { healthy: boolean; lastError: string | null; healthState?: string };
    if (f.healthState === 'open') problems.push(`${name} breaker open: ${f.lastError ?? 'too many failures'}`);
    else if (!f.healthy) problems.push(`${name} failed: ${f.lastError}`);
  }
  if (r.upstream !== null) problems.push(`upstream unreachable: ${r.upstream}`);
  return problems;
}
