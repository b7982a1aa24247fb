// Owns the filters and their generations. `apply` turns a config into a new generation: unchanged
// filters are reused as they are, changed ones are built and started as candidates first, and the
// switch is one assignment. A candidate that fails leaves that filter on its last good version; a
// config that names a filter with no good version at all is rejected whole.

import type { Logger } from 'pino';
import { MetricRegistry } from '../abi/filter-metrics.js';
import type { GrpcCallDispatcher } from '../abi/grpc-call-dispatcher.js';
import type { HttpCallDispatcher } from '../abi/http-call-dispatcher.js';
import { SharedData } from '../abi/shared-data.js';
import { SharedQueues } from '../abi/shared-queues.js';
import type { WasmFilter } from '../abi/wasm-filter.js';
import type { FilterConfig, OutriggerConfig } from '../config/config.js';
import { OutriggerError } from '../errors.js';
import { Generation } from './generation.js';
import { compileFilter, readFilterFile, startFilter, startFilterGroup, type CompiledModule, type FilterFile } from './load-filter.js';

export type FilterState = 'active' | 'rejected' | 'missing' | 'failed';

/** One configured filter across generations: what serves now and what happened to the last attempt. */
export interface FilterSlot {
  /** A chain filter (`filters:`) or a background service (`services:`: root context only). */
  kind: 'filter' | 'service';
  entry: FilterConfig;
  filter: WasmFilter;
  sha256: string;
  abi: string;
  /** The generation in which the serving version went live. */
  generation: number;
  loadedAt: Date;
  state: FilterState;
  lastError: string | null;
  /** Identity of what is serving: a change in any of these needs a new instance. */
  key: string;
  /** Identity of the last candidate that was rejected, so an unchanged bad file is not retried. */
  rejectedKey: string | null;
  /**
   * For entries sharing one instance (the same vm_id and file, see instanceKey): the identity of the
   * whole group (every member's key). A change in any member starts the group afresh. Null alone.
   */
  groupKey?: string | null;
}

/**
 * The one state /filters, /metrics and their logs show for a slot: the last load attempt's (rejected,
 * missing) when it failed, else what the serving instance is doing (active, degraded, open).
 */
export function shownState(s: FilterSlot): string {
  return s.state === 'active' ? s.filter.healthState : s.state;
}

export interface ApplyResult {
  changed: boolean;
  generation: number;
  /** One line per filter that was added, replaced, removed, reordered, or rejected. */
  changes: string[];
  rejected: string[];
}

function slotKey(kind: FilterSlot['kind'], entry: FilterConfig, sha256: string): string {
  return JSON.stringify([
    kind,
    sha256,
    entry.rootId,
    entry.vmId,
    entry.onError,
    entry.configuration.toString('base64'),
    entry.vmConfiguration.toString('base64'),
    entry.limits,
    entry.breaker,
    entry.strictImports,
    entry.debug,
  ]);
}

/**
 * What decides that entries share one instance (as Envoy's VM key): a non-empty vm_id, the file, the
 * vm_config and the instance-wide settings (limits, breaker, strict_imports, debug). Entries that
 * differ in any of these get instances of their own. Null: the entry is alone (no vm_id).
 */
function instanceKey(entry: FilterConfig, sha256: string): string | null {
  if (entry.vmId === '') return null;
  return JSON.stringify([entry.vmId, sha256, entry.vmConfiguration.toString('base64'), entry.limits, entry.breaker, entry.strictImports, entry.debug]);
}

function errorText(err: unknown): string {
  return err instanceof OutriggerError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
}

export class FilterManager {
  readonly #logger: Logger;
  /** Filter-defined metrics and shared data outlive instances and generations, as in Envoy. */
  readonly metrics = new MetricRegistry();
  readonly sharedData = new SharedData();
  /** Shared queues likewise: a hot-swapped filter re-registering a name gets its pending items. */
  readonly sharedQueues = new SharedQueues();
  /** Who answers proxy_http_call: the proxy's clusters (set by server.ts before the first apply). */
  httpCalls: HttpCallDispatcher | undefined = undefined;
  /** Who carries proxy_grpc_call / _stream: the proxy's HTTP/2 transport over the same clusters (server.ts). */
  grpcCalls: GrpcCallDispatcher | undefined = undefined;
  #current: Generation;
  #nextGeneration = 1;
  #slots = new Map<string, FilterSlot>();
  /** Generations with requests still running (the current one included). */
  readonly #live = new Set<Generation>();
  #queue: Promise<unknown> = Promise.resolve();
  /**
   * Compiled modules by sha256: filters built from the same file (the same .wasm listed twice with
   * different configs, or an unchanged file across reloads) share one module and its machine code.
   */
  #modules = new Map<string, CompiledModule>();

  constructor(logger: Logger) {
    this.#logger = logger;
    this.sharedQueues.onFull = (vmId, name, items, bytes) =>
      logger.warn(
        { code: 'OUTRIGGER_SHARED_QUEUE_FULL', vm_id: vmId, queue: name, items, bytes },
        `shared queue "${name}" (vm_id "${vmId}") is full (${items} items, ${bytes} bytes): enqueues get InternalFailure until its consumer catches up; is the root that registered it still dequeuing?`,
      );
    this.#current = new Generation(0, []);
    this.#live.add(this.#current);
  }

  get current(): Generation {
    return this.#current;
  }

  /** Pins the current generation for one request; the caller must release() it exactly once. */
  acquire(): Generation {
    return this.#current.acquire();
  }

  get slots(): readonly FilterSlot[] {
    return [...this.#slots.values()];
  }

  get liveGenerations(): number {
    return this.#live.size;
  }

  /** Applies a config; calls are serialized. `strict` (start-up) rejects on any filter that fails. */
  apply(config: OutriggerConfig, opts: { strict?: boolean } = {}): Promise<ApplyResult> {
    const run = this.#queue.then(() => this.#apply(config, opts.strict ?? false));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #apply(config: OutriggerConfig, strict: boolean): Promise<ApplyResult> {
    const genId = this.#nextGeneration;
    const changes: string[] = [];
    const rejected: string[] = [];
    const fatal: string[] = [];
    const next = new Map<string, FilterSlot>();
    const started: WasmFilter[] = [];

    // Services go through the same candidate rules as filters; they just never join the chain.
    const entries = [...config.filters.map((e) => ['filter', e] as const), ...config.services.map((e) => ['service', e] as const)];
    const files = new Map<string, FilterFile | string>();
    const groups = new Map<string, (typeof entries)[number][]>();
    for (const [kind, entry] of entries) {
      try {
        const file = await readFilterFile(entry.path, entry.name);
        files.set(entry.name, file);
        const ik = instanceKey(entry, file.sha256);
        if (ik !== null) groups.set(ik, [...(groups.get(ik) ?? []), [kind, entry]]);
      } catch (err) {
        files.set(entry.name, errorText(err));
      }
    }
    const groupOf = new Map<string, (typeof entries)[number][]>();
    for (const members of groups.values()) if (members.length > 1) for (const [, e] of members) groupOf.set(e.name, members);
    const done = new Set<string>();

    for (const [kind, entry] of entries) {
      if (done.has(entry.name)) continue;
      const members = groupOf.get(entry.name);
      if (members !== undefined) {
        for (const [, e] of members) done.add(e.name);
        await this.#applyGroup(members, files, next, { genId, strict, changes, rejected, fatal, started });
        continue;
      }
      // An entry moved between filters: and services: starts afresh (a chain filter is no service).
      const held = this.#slots.get(entry.name);
      const prev = held?.kind === kind && !held.groupKey ? held : undefined;
      const read = files.get(entry.name)!;
      const file: FilterFile | null = typeof read === 'string' ? null : read;
      let error: string | null = typeof read === 'string' ? read : null;
      const missing = file === null;
      const key = file ? slotKey(kind, entry, file.sha256) : '';
      if (file && prev && prev.key === key) {
        next.set(entry.name, { ...prev, entry, state: 'active', lastError: null, rejectedKey: null });
        continue;
      }
      if (file && prev && prev.rejectedKey === key && !strict) {
        next.set(entry.name, { ...prev });
        continue;
      }
      if (file) {
        try {
          // The memory cap is written into the module, so a module is per file and cap.
          const moduleKey = `${file.sha256}:${entry.limits.memoryMb}`;
          const compiled = this.#modules.get(moduleKey) ?? (await compileFilter(file, entry.name, entry.path, entry.limits.memoryMb));
          this.#modules.set(moduleKey, compiled);
          const filter = startFilter(compiled, entry, this.#logger, this, kind === 'service');
          started.push(filter);
          next.set(entry.name, {
            kind,
            entry,
            filter,
            sha256: compiled.sha256,
            abi: compiled.abi,
            generation: genId,
            loadedAt: new Date(),
            state: 'active',
            lastError: null,
            key,
            rejectedKey: null,
          });
          if (prev) changes.push(`${entry.name}: replaced ${prev.sha256.slice(0, 12)} -> ${compiled.sha256.slice(0, 12)}`);
          else changes.push(`${entry.name}: added ${compiled.sha256.slice(0, 12)} (ABI ${compiled.abi}${kind === 'service' ? ', service' : ''})`);
          this.#logger.info(
            { filter: entry.name, kind, file: entry.path, oldSha256: prev?.sha256 ?? null, sha256: compiled.sha256, abi: compiled.abi, generation: genId },
            `${kind} ${prev ? 'replaced' : 'loaded'}`,
          );
          continue;
        } catch (err) {
          error = errorText(err);
        }
      }
      // The candidate failed: keep the last good version if there is one.
      this.#logger.error({ filter: entry.name, file: entry.path, sha256: file?.sha256 ?? null, generation: genId }, `filter candidate rejected: ${error}`);
      if (prev && !strict) {
        next.set(entry.name, { ...prev, state: missing ? 'missing' : 'rejected', lastError: error, rejectedKey: missing ? null : key });
        rejected.push(`${entry.name}: ${error} (still serving ${prev.sha256.slice(0, 12)})`);
      } else fatal.push(error!);
    }

    if (fatal.length) {
      for (const f of started) f.release();
      fatal.splice(0, fatal.length, ...new Set(fatal));
      throw new OutriggerError(
        'OUTRIGGER_CONFIG_INVALID',
        `filters failed to load (${fatal.length}); ${strict ? 'not starting' : 'the running chain keeps serving'}:\n  ${fatal.join('\n  ')}`,
        'fix or rebuild the filters named above',
      );
    }

    const oldNames = this.#current.filters.map((f) => f.name);
    const newFilters = config.filters.map((e) => next.get(e.name)!.filter);
    for (const name of this.#slots.keys()) if (!next.has(name)) changes.push(`${name}: removed`);
    const sameChain = newFilters.length === this.#current.filters.length && newFilters.every((f, i) => f === this.#current.filters[i]);
    if (!sameChain && changes.length === 0) changes.push(`order: ${oldNames.join(', ')} -> ${newFilters.map((f) => f.name).join(', ')}`);
    const oldServices = [...this.#slots.values()].filter((sl) => sl.kind === 'service').map((sl) => sl.filter);
    const newServices = config.services.map((e) => next.get(e.name)!.filter);
    const sameServices = newServices.length === oldServices.length && newServices.every((f) => oldServices.includes(f));
    this.#slots = next;
    // Keep compiled modules only for what serves now (old generations keep theirs through their filters).
    const serving = new Set([...next.values()].map((sl) => `${sl.sha256}:${sl.entry.limits.memoryMb}`));
    for (const key of this.#modules.keys()) if (!serving.has(key)) this.#modules.delete(key);
    if (sameChain && sameServices) return { changed: false, generation: this.#current.id, changes, rejected };

    this.#nextGeneration++;
    this.#swap(new Generation(genId, newFilters));
    // A replaced or removed service serves no request that could still need it: end it now (its
    // successor is already running, so a queue it registered has passed to the new root).
    for (const f of oldServices) if (!newServices.includes(f)) f.release();
    this.#logger.info(
      { generation: genId, filters: newFilters.map((f) => f.name), services: newServices.map((f) => f.name), changes },
      `generation ${genId} active`,
    );
    return { changed: true, generation: genId, changes, rejected };
  }

  /**
   * Entries sharing one instance (instanceKey) as one candidate: reused whole while no member
   * changed, else started together (one root context each); a failure rejects every member.
   */
  async #applyGroup(
    members: readonly (readonly ['filter' | 'service', FilterConfig])[],
    files: Map<string, FilterFile | string>,
    next: Map<string, FilterSlot>,
    acc: { genId: number; strict: boolean; changes: string[]; rejected: string[]; fatal: string[]; started: WasmFilter[] },
  ): Promise<void> {
    const file = files.get(members[0][1].name) as FilterFile;
    const keys = members.map(([k, e]) => slotKey(k, e, file.sha256));
    const groupKey = JSON.stringify(keys);
    const prevs = members.map(([k, e]) => {
      const held = this.#slots.get(e.name);
      return held?.kind === k ? held : undefined;
    });
    if (prevs.every((p) => p?.groupKey === groupKey)) {
      members.forEach(([, e], i) => {
        next.set(e.name, { ...prevs[i]!, entry: e, state: 'active', lastError: null, rejectedKey: null });
      });
      return;
    }
    if (!acc.strict && prevs.every((p) => p?.rejectedKey === groupKey)) {
      members.forEach(([, e], i) => {
        next.set(e.name, { ...prevs[i]! });
      });
      return;
    }
    const first = members[0][1];
    try {
      const moduleKey = `${file.sha256}:${first.limits.memoryMb}`;
      const compiled = this.#modules.get(moduleKey) ?? (await compileFilter(file, first.name, first.path, first.limits.memoryMb));
      this.#modules.set(moduleKey, compiled);
      const filters = startFilterGroup(
        compiled,
        members.map(([k, e]) => ({ entry: e, rootOnly: k === 'service' })),
        this.#logger,
        this,
      );
      acc.started.push(...filters);
      const names = members.map(([, e]) => e.name);
      members.forEach(([kind, entry], i) => {
        const prev = prevs[i];
        next.set(entry.name, {
          kind,
          entry,
          filter: filters[i],
          sha256: compiled.sha256,
          abi: compiled.abi,
          generation: acc.genId,
          loadedAt: new Date(),
          state: 'active',
          lastError: null,
          key: keys[i],
          rejectedKey: null,
          groupKey,
        });
        acc.changes.push(
          `${entry.name}: ${prev ? `replaced ${prev.sha256.slice(0, 12)} -> ` : 'added '}${compiled.sha256.slice(0, 12)} (${kind}, one instance with ${names.filter((n) => n !== entry.name).join(', ')}; vm_id ${entry.vmId})`,
        );
      });
      this.#logger.info(
        { filters: names, vm_id: first.vmId, file: first.path, sha256: compiled.sha256, generation: acc.genId },
        `${names.join(', ')} loaded on one instance (vm_id ${first.vmId})`,
      );
    } catch (err) {
      const error = errorText(err);
      this.#logger.error({ filters: members.map(([, e]) => e.name), file: first.path, generation: acc.genId }, `shared-instance candidate rejected: ${error}`);
      members.forEach(([, e], i) => {
        const prev = prevs[i];
        if (prev && !acc.strict) {
          next.set(e.name, { ...prev, state: 'rejected', lastError: error, rejectedKey: groupKey });
          acc.rejected.push(`${e.name}: ${error} (still serving ${prev.sha256.slice(0, 12)})`);
        } else acc.fatal.push(error);
      });
    }
  }

  #swap(gen: Generation): void {
    const old = this.#current;
    this.#live.add(gen);
    this.#current = gen;
    old.retire(() => this.#drained(old));
  }

  /** The last request of `gen` finished: let go of filters no live generation still uses. */
  #drained(gen: Generation): void {
    this.#live.delete(gen);
    for (const f of gen.filters) {
      let used = false;
      for (const g of this.#live) if (g.filters.includes(f)) used = true;
      if (!used) f.release();
    }
  }

  /** Ends every filter (shutdown, after draining). */
  close(): void {
    for (const sl of this.#slots.values()) if (sl.kind === 'service') sl.filter.release();
    const cur = this.#current;
    this.#current = new Generation(this.#nextGeneration++, []);
    cur.retire(() => this.#drained(cur));
  }
}
