// One instance of a filter's module: instantiation, the start-up sequence, context ids, guest
// allocation and every call into the guest. A trap poisons the instance (`failed`); the owner
// (WasmFilter) replaces it. Host functions reach the current request through `current`.

import type { Logger } from 'pino';
import { WasmResult } from '../../abi/enums.js';
import type { AbiVersion } from '../../abi/functions.js';
import type { FaultKind } from '../chain/filter-instance.js';
import type { HttpStream } from '../chain/http-stream.js';
import { OutriggerError } from '../errors.js';
import { MEMORY_REPLACE_FRACTION } from '../limits.js';
import { CALLBACK_NAMES } from './callback-names.js';
import { systemClock, type Clock, type TickTimer } from './clock.js';
import { CpuBudget } from './cpu-budget.js';
import { activity, CALLBACK, FILTER, filterIndexOf, REQUEST } from '../watchdog/activity.js';
import type { MetricRegistry } from './filter-metrics.js';
import type { GrpcCallDispatcher } from './grpc-call-dispatcher.js';
import type { HttpCallDispatcher, HttpCallResponse } from './http-call-dispatcher.js';
import { HttpCallTable } from './http-calls.js';
import { GuestMemory } from './guest-memory.js';
import { faultKind } from './fault-kind.js';
import { DeadlineExceeded, describeGuestError } from './guest-errors.js';
import { buildImports } from './imports.js';
import type { SharedData } from './shared-data.js';
import type { QueueReadyTarget, SharedQueues } from './shared-queues.js';
import type { SourceMap } from './source-map.js';

export interface PluginSpec {
  /** The filter's configured name: the plugin_name property and the log tag. */
  name: string;
  rootId: string;
  vmId: string;
  configuration: Buffer;
  vmConfiguration: Buffer;
  logger: Logger;
  /** Where proxy_define_metric and friends keep their values (shared by all filters). */
  metrics: MetricRegistry;
  /** The store behind proxy_get/set_shared_data (keyed by vm_id). */
  sharedData: SharedData;
  /** The registry behind proxy_*_shared_queue (keyed by vm_id; outlives instances and generations). */
  sharedQueues: SharedQueues;
  /** The filter's `limits` (CPU budgets in ms; the memory cap is applied to the module at load). */
  limits: FilterLimits;
  /** A service (`services:`): a root context only, never a stream context; its breaker retries on a timer. */
  rootOnly?: boolean;
  /** Refuse to instantiate a module that imports proxy_* / env.* functions Outrigger does not know. */
  strictImports?: boolean;
  /** `debug: true`: log each non-Ok host-call result once per call site (host-call-diagnostics.ts). */
  debug?: boolean;
  /** Time and tick timers; the system clock unless a test harness passes a virtual one. */
  clock?: Clock;
  /** Who answers proxy_http_call (the test harness's mocked clusters; see http-call-dispatcher.ts). */
  httpCalls?: HttpCallDispatcher;
  /** Who carries proxy_grpc_call / proxy_grpc_stream to a cluster (see grpc-call-dispatcher.ts). */
  grpcCalls?: GrpcCallDispatcher;
  /** The module's source map (built with --sourceMap), for source positions in fault backtraces. */
  sourceMap?: SourceMap | null;
}

export interface FilterLimits {
  cpuMs: number;
  startMs: number;
  memoryMb: number;
}

/** Which callback is running: decides which maps and buffers a host call may touch. */
export const enum Phase {
  None,
  Initialize,
  VmStart,
  Configure,
  Create,
  RequestHeaders,
  RequestBody,
  ResponseHeaders,
  ResponseBody,
  Log,
  Done,
  Delete,
  Tick,
  QueueReady,
  GrpcReceiveInitialMetadata,
  GrpcReceive,
  GrpcReceiveTrailingMetadata,
  GrpcClose,
  HttpCallResponse,
  RequestTrailers,
  ResponseTrailers,
}

type GuestFn = (...args: number[]) => number;

const ROOT_CONTEXT_ID = 1;
/** Below SLOT_SPAN, so no stream's id (generation ≥ 1 × SLOT_SPAN + slot) is ever the probe's. */
const PROBE_CONTEXT_ID = 2;
/** Stream context ids: generation (1..MAX_GENERATION) × SLOT_SPAN + slot; all below 2^31. */
const SLOT_BITS = 20;
const SLOT_SPAN = 1 << SLOT_BITS;
const SLOT_MASK = SLOT_SPAN - 1;
const MAX_GENERATION = (1 << 11) - 1;

export class WasmVm {
  readonly module: WebAssembly.Module;
  readonly abi: AbiVersion;
  /**
   * The plugin of the root context being called (every host call reads its name, config and logger
   * here). With several root contexts on one instance (filters and services sharing a vm_id) it
   * switches with each callback to the root the context belongs to.
   */
  spec: PluginSpec;
  /** Every plugin with a root context on this instance, in start order (one unless a vm_id is shared). */
  readonly specs: readonly PluginSpec[];
  readonly memory = new GuestMemory();
  /** Why this instance may no longer be called, or null while healthy. */
  failed: string | null = null;
  /** What killed it (set with `failed` when a guest call threw). */
  failedKind: FaultKind | null = null;
  /** The deadline clock the instrumented module's budget check reads (outrigger.budget_check). */
  readonly budget = new CpuBudget();
  /**
   * Slot of the stream whose callback is in progress (the effective context's after
   * set_effective_context), -1 for none or the root. A number rather than the stream itself: storing
   * a young object into this long-lived one costs a write barrier on every guest call.
   */
  #currentSlot = -1;
  /** Context id of the callback in progress. */
  currentId = 0;
  phase = Phase.None;
  /** Root context id of the callback in progress (of the first root when idle). */
  rootId = 0;
  /** Root context ids, one per spec, in the same order (set by start). */
  readonly rootIds: number[] = [];
  /** The root each stream slot's context was created under (only read with several roots). */
  readonly #slotRoot: number[] = [];
  /** The last CRITICAL/ERROR line the guest logged, attached to a following trap's message. */
  lastErrorLog = '';
  /** `module.name` of the imported functions Outrigger does not provide (set when imports are built). */
  unknownImports: string[] = [];
  /** Host functions already reported as unimplemented (logged once each). */
  readonly reportedUnimplemented = new Set<string>();
  /** Streams a callback acted on through proxy_set_effective_context: they act once it has returned. */
  #touched: HttpStream[] | null = null;
  /** Work a host call deferred until the callback returns (afterCall). */
  #deferred: (() => void)[] | null = null;
  /** A guest call is in progress (host calls only happen then). */
  #inCall = false;
  /** Runs proxy_on_tick; set by the owner (WasmFilter), which decides what a trap there means. */
  onTick: ((root: number) => void) | null = null;
  /** Runs proxy_on_queue_ready on a root context; set by the owner, like onTick. */
  onQueueReady: ((root: number, queueId: number) => void) | null = null;
  /** Queue wake receivers and tick timers, per root context (cpp-host keeps both per root id). */
  readonly #queueTargets = new Map<number, QueueReadyTarget>();
  readonly #tickTimers = new Map<number, TickTimer>();
  /** proxy_http_call's calls in flight (http-calls.ts). */
  readonly httpCalls = new HttpCallTable();
  /** Runs proxy_on_http_call_response (null response: the call failed); set by WasmFilter, as onTick. */
  onHttpCallResponse: ((token: number, response: HttpCallResponse | null, root: number) => void) | null = null;
  /**
   * Set by the owner (WasmFilter): a root callback run from the event loop (a gRPC completion)
   * trapped. The owner decides what that means, as for a tick.
   */
  onRootFault: ((err: unknown, callback: string) => void) | null = null;
  /** Run once when the instance is destroyed (pending calls cancelled), after its root context ended. */
  readonly onDestroy: (() => void)[] = [];

  #exports: Record<string, unknown> = {};
  /**
   * Stream contexts by slot. A context id is generation × 2^20 + slot: slots are reused, ids are not
   * (until a slot's 11-bit generation wraps), so a stale id finds nothing. Cheaper than a Map, which
   * pays for every insert and delete of ever-growing keys.
   */
  readonly #slots: (HttpStream | undefined)[] = [];
  readonly #slotGen: number[] = [];
  readonly #freeSlots: number[] = [];
  #live = 0;
  #alloc: GuestFn | null = null;
  /** This filter's index in the watchdog's name table (watchdog/activity.ts). */
  readonly #filterIndex: number;

  fnCreate: GuestFn | null = null;
  fnRequestHeaders: GuestFn | null = null;
  fnRequestBody: GuestFn | null = null;
  fnResponseHeaders: GuestFn | null = null;
  fnResponseBody: GuestFn | null = null;
  fnRequestTrailers: GuestFn | null = null;
  fnResponseTrailers: GuestFn | null = null;
  fnLog: GuestFn | null = null;
  fnDone: GuestFn | null = null;
  fnDelete: GuestFn | null = null;
  fnTick: GuestFn | null = null;
  fnQueueReady: GuestFn | null = null;
  fnHttpCallResponse: GuestFn | null = null;

  constructor(module: WebAssembly.Module, abi: AbiVersion, spec: PluginSpec, more: readonly PluginSpec[] = []) {
    this.module = module;
    this.abi = abi;
    this.spec = spec;
    this.specs = [spec, ...more];
    this.#filterIndex = filterIndexOf(spec.name);
  }

  /** Instantiates and runs the start-up sequence. Throws OutriggerError when the filter can't start. */
  start(): void {
    const imports = buildImports(this.module, this);
    if (this.spec.strictImports) {
      const unknown = this.unknownImports;
      if (unknown.length)
        throw new OutriggerError(
          'OUTRIGGER_WASM_UNKNOWN_IMPORTS',
          `${this.spec.name}: the module imports functions Outrigger does not provide: ${unknown.join(', ')} (strict_imports: true)`,
          'rebuild the filter against a proxy-wasm SDK Outrigger supports, or set strict_imports: false to load it anyway (those calls then fail)',
        );
    }
    let instance: WebAssembly.Instance;
    const timed = this.budget.begin('instantiation (start section)', this.spec.limits.startMs);
    try {
      instance = new WebAssembly.Instance(this.module, imports);
    } catch (err) {
      if (err instanceof WebAssembly.LinkError)
        throw new OutriggerError(
          'OUTRIGGER_WASM_LINK',
          `${this.spec.name}: ${err.message}`,
          'the module imports something Outrigger cannot provide; rebuild it for proxy-wasm',
          { cause: err },
        );
      throw this.#startError('instantiation (start section)', err);
    } finally {
      if (timed) this.budget.end();
    }
    const ex = instance.exports as Record<string, unknown>;
    this.#exports = ex;
    const mem = ex.memory;
    this.memory.attach(mem instanceof WebAssembly.Memory ? mem : null);
    if (!this.memory.attached)
      throw new OutriggerError(
        'OUTRIGGER_WASM_LINK',
        `${this.spec.name}: the module exports no memory`,
        'build the filter as a proxy-wasm module (it must export "memory")',
      );
    const fn = (name: string): GuestFn | null => (typeof ex[name] === 'function' ? (ex[name] as GuestFn) : null);

    this.#run('_initialize', Phase.Initialize, () => {
      const init = fn('_initialize');
      if (init) {
        init();
        const main = fn('main') ?? fn('__main_void');
        if (main) main(0, 0);
      } else fn('_start')?.();
    });

    this.#alloc = fn('malloc') ?? fn('proxy_on_memory_allocate');
    if (!this.#alloc)
      throw new OutriggerError(
        'OUTRIGGER_WASM_NO_ALLOCATOR',
        `${this.spec.name}: the module exports neither malloc nor proxy_on_memory_allocate`,
        'proxy-wasm SDKs export one of them; check the build flags',
      );

    this.fnCreate = fn('proxy_on_context_create');
    this.fnRequestHeaders = fn('proxy_on_request_headers');
    this.fnRequestBody = fn('proxy_on_request_body');
    this.fnResponseHeaders = fn('proxy_on_response_headers');
    this.fnResponseBody = fn('proxy_on_response_body');
    this.fnRequestTrailers = fn('proxy_on_request_trailers');
    this.fnResponseTrailers = fn('proxy_on_response_trailers');
    this.fnLog = fn('proxy_on_log');
    this.fnDone = fn('proxy_on_done');
    this.fnDelete = fn('proxy_on_delete');
    this.fnTick = fn('proxy_on_tick');
    this.fnQueueReady = fn('proxy_on_queue_ready');
    this.fnHttpCallResponse = fn('proxy_on_http_call_response');

    // One root context per plugin, each through the whole start-up sequence, as Envoy does for
    // every plugin sharing a VM (including proxy_on_vm_start). Ids 1, 3, 4, ...: 2 is the probe's.
    for (let i = 0; i < this.specs.length; i++) this.rootIds.push(i === 0 ? ROOT_CONTEXT_ID : i + 2);
    for (let i = 0; i < this.specs.length; i++) this.#startRoot(fn, i);
    this.#enterRoot(this.rootIds[0]);
  }

  /** Makes root `root` (and its plugin) the one host calls act for. */
  #enterRoot(root: number): void {
    this.rootId = root;
    if (this.specs.length > 1) {
      const i = this.rootIds.indexOf(root);
      this.spec = this.specs[Math.max(i, 0)];
    }
  }

  /** True for the id of one of this instance's root contexts. */
  isRoot(id: number): boolean {
    return id === ROOT_CONTEXT_ID || (this.specs.length > 1 && this.rootIds.includes(id));
  }

  #startRoot(fn: (name: string) => GuestFn | null, i: number): void {
    this.#enterRoot(this.rootIds[i]);
    this.#run('proxy_on_context_create', Phase.Create, () => this.fnCreate?.(this.rootId, 0));
    const vmStart = fn('proxy_on_vm_start');
    if (vmStart) {
      const ok = this.#run('proxy_on_vm_start', Phase.VmStart, () => vmStart(this.rootId, this.spec.vmConfiguration.byteLength));
      if (!ok)
        throw new OutriggerError(
          'OUTRIGGER_FILTER_VM_START',
          `${this.spec.name}: proxy_on_vm_start returned false${this.#lastLog()}`,
          "check the filter's vm_config and its log lines above",
        );
    }
    const configure = fn('proxy_on_configure');
    if (configure) {
      const ok = this.#run('proxy_on_configure', Phase.Configure, () => configure(this.rootId, this.spec.configuration.byteLength));
      if (!ok)
        throw new OutriggerError(
          'OUTRIGGER_FILTER_CONFIGURE',
          `${this.spec.name}: proxy_on_configure returned false (the filter rejected its config)${this.#lastLog()}`,
          "check the filter's `config` in the Outrigger config and the filter's log lines above",
        );
    }
  }

  #lastLog(): string {
    return this.lastErrorLog ? `; it logged: ${this.lastErrorLog}` : '';
  }

  #startError(step: string, err: unknown): OutriggerError {
    this.failed = describeGuestError(err);
    this.failedKind = faultKind(err, this.lastErrorLog, memoryAtCap(this));
    if (err instanceof DeadlineExceeded)
      return new OutriggerError(
        'OUTRIGGER_FILTER_DEADLINE',
        `${this.spec.name}: ${step} was stopped: ${this.failed} (limits.start_ms)`,
        "the filter's start-up loops or does too much work; fix it, or raise the filter's limits.start_ms",
        { cause: err },
      );
    return new OutriggerError(
      'OUTRIGGER_WASM_START',
      `${this.spec.name}: ${step} failed: ${this.failed}${this.#lastLog()}`,
      'the filter trapped while starting; run it with the debug build and read its log',
      { cause: err },
    );
  }

  #run(step: string, phase: Phase, body: () => unknown): unknown {
    this.phase = phase;
    this.currentId = this.rootId;
    const timed = this.budget.begin(step, this.spec.limits.startMs);
    activity[FILTER] = this.#filterIndex;
    activity[CALLBACK] = phase;
    activity[REQUEST] = -1;
    this.#inCall = true;
    let ok = false;
    try {
      const result = body();
      ok = true;
      return result;
    } catch (err) {
      throw this.#startError(step, err);
    } finally {
      if (timed) this.budget.end();
      this.phase = Phase.None;
      this.currentId = 0;
      activity[FILTER] = -1;
      activity[CALLBACK] = Phase.None;
      this.#inCall = false;
      // A start-up that failed leaves nothing behind: the instance is never used.
      if (ok) this.#runAfterCall(null);
      else this.#touched = this.#deferred = null;
    }
  }

  /**
   * Creates and deletes one stream context outside any request (id PROBE_CONTEXT_ID, which no real
   * stream gets), to learn at load whether the module can make HTTP contexts at all. Returns null
   * when it can, else what went wrong; a trap leaves the instance failed.
   */
  probeStreamContext(root = this.rootIds[0]): string | null {
    if (!this.fnCreate) return null;
    try {
      this.#enterRoot(root);
      this.call(this.fnCreate, Phase.Create, null, PROBE_CONTEXT_ID, root, 0);
      if (this.fnDelete) this.call(this.fnDelete, Phase.Delete, null, PROBE_CONTEXT_ID, 0, 0);
    } catch {
      return this.failed ?? 'trapped';
    }
    return null;
  }

  /** A guest export by name (callbacks looked up when first needed), or null. */
  guestExport(name: string): GuestFn | null {
    const f = this.#exports[name];
    return typeof f === 'function' ? (f as GuestFn) : null;
  }

  /** Creates a stream context for one request. Returns its id. Throws the guest's error on a trap. */
  createStream(stream: HttpStream, root = this.rootIds[0]): number {
    const slot = this.#freeSlots.length ? this.#freeSlots.pop()! : this.#slots.length;
    if (slot >= SLOT_SPAN) throw new Error(`more than ${SLOT_SPAN} concurrent requests on one filter instance`);
    const gen = slot < this.#slotGen.length ? (this.#slotGen[slot] % MAX_GENERATION) + 1 : 1;
    this.#slotGen[slot] = gen;
    this.#slots[slot] = stream;
    this.#slotRoot[slot] = root;
    this.#live++;
    const id = gen * SLOT_SPAN + slot;
    if (this.fnCreate)
      try {
        this.call(this.fnCreate, Phase.Create, stream, id, root, 0);
      } catch (err) {
        // No context was made: a slot left claimed would keep this (failed) instance alive forever.
        this.forgetStream(id);
        throw err;
      }
    return id;
  }

  forgetStream(id: number): void {
    const slot = id & SLOT_MASK;
    if (this.#slots[slot] === undefined || this.#slotGen[slot] !== id >>> SLOT_BITS) return;
    this.#slots[slot] = undefined;
    this.#freeSlots.push(slot);
    this.#live--;
    // The context is gone: so are the calls it made (Envoy's ~Context cancels them).
    if (this.httpCalls.size !== 0) this.httpCalls.cancelOwnedBy(id);
  }

  /** The stream of a context id, for proxy_set_effective_context; undefined when unknown. */
  streamOf(id: number): HttpStream | null | undefined {
    if (this.isRoot(id)) return null;
    const slot = id & SLOT_MASK;
    return this.#slotGen[slot] === id >>> SLOT_BITS ? this.#slots[slot] : undefined;
  }

  /** Stream of the callback in progress (the effective context's stream after set_effective_context). */
  get current(): HttpStream | null {
    const slot = this.#currentSlot;
    return slot < 0 ? null : (this.#slots[slot] ?? null);
  }

  /** proxy_set_effective_context: later host calls act on context `id`. False when it is unknown. */
  setEffectiveContext(id: number): boolean {
    const s = this.streamOf(id);
    if (s === undefined) return false;
    this.#currentSlot = s === null ? -1 : id & SLOT_MASK;
    this.currentId = id;
    if (this.specs.length > 1) this.#enterRoot(s === null ? id : this.#slotRoot[id & SLOT_MASK]);
    if (s !== null) (this.#touched ??= []).push(s);
    return true;
  }

  /**
   * Runs `action` once the guest callback in progress has returned (at once when none is): the rule
   * for every host call whose effect would call into a guest (a resume, a queue's ready callback, a
   * call's completion), as cpp-host's addAfterVmCallAction. No guest export runs inside a host call.
   */
  afterCall(action: () => void): void {
    if (this.#inCall) (this.#deferred ??= []).push(action);
    else action();
  }

  get liveStreams(): number {
    return this.#live;
  }

  /** The streams with a live context on this instance, each with the root it was created under. */
  streamRoots(): [HttpStream, number][] {
    const out: [HttpStream, number][] = [];
    for (let i = 0; i < this.#slots.length; i++) {
      const s = this.#slots[i];
      if (s !== undefined) out.push([s, this.#slotRoot[i]]);
    }
    return out;
  }

  /** The streams with a live context on this instance. */
  streams(): HttpStream[] {
    return this.#slots.filter((s): s is HttpStream => s !== undefined);
  }

  /**
   * Calls a guest callback for a stream. On a trap the instance is marked failed and the error is
   * rethrown for the caller to turn into a FilterFault.
   */
  call(fn: GuestFn, phase: Phase, stream: HttpStream | null, id: number, a: number, b: number): number {
    // Several roots: host calls act for the plugin whose root this context is or belongs to.
    if (this.specs.length > 1) {
      if (stream !== null) this.#enterRoot(this.#slotRoot[id & SLOT_MASK]);
      else if (this.isRoot(id)) this.#enterRoot(id);
    }
    this.#currentSlot = stream === null ? -1 : id & SLOT_MASK;
    this.currentId = id;
    this.phase = phase;
    const timed = this.budget.begin(CALLBACK_NAMES[phase], this.spec.limits.cpuMs);
    // For the watchdog: three int stores into shared memory (see watchdog/activity.ts).
    const act = activity;
    act[FILTER] = this.#filterIndex;
    act[CALLBACK] = phase;
    act[REQUEST] = stream === null ? -1 : stream.serial;
    this.#inCall = true;
    try {
      return fn(id, a, b);
    } catch (err) {
      this.failed = describeGuestError(err) + this.#lastLog();
      this.failedKind = faultKind(err, this.lastErrorLog, memoryAtCap(this));
      if (this.httpCalls.size !== 0) this.httpCalls.cancelAll();
      if (err instanceof DeadlineExceeded)
        this.spec.logger.error(
          {
            code: 'OUTRIGGER_FILTER_DEADLINE',
            callback: err.callback,
            reqId: stream?.id ?? null,
            budgetMs: err.budgetMs,
            elapsedMs: Math.round(err.elapsedMs),
          },
          `filter stopped: ${err.message} (limits.cpu_ms); its instance is replaced`,
        );
      throw err;
    } finally {
      if (timed) this.budget.end();
      act[FILTER] = -1;
      act[CALLBACK] = Phase.None;
      this.#currentSlot = -1;
      this.currentId = 0;
      this.phase = Phase.None;
      this.#inCall = false;
      if (this.#touched !== null || this.#deferred !== null) this.#runAfterCall(stream);
    }
  }

  /**
   * The callback has returned: streams it resumed, answered or reset through set_effective_context
   * act now (its own stream's chain reads its actions itself), then whatever host calls deferred.
   */
  #runAfterCall(own: HttpStream | null): void {
    const touched = this.#touched;
    const deferred = this.#deferred;
    this.#touched = null;
    this.#deferred = null;
    if (touched !== null) for (const s of touched) if (s !== own) s.act();
    if (deferred !== null) for (const action of deferred) action();
  }

  /**
   * This instance's root context as the receiver of proxy_on_queue_ready (shared-queues.ts): live
   * while the instance is, so a queue registered by a faulted or released instance falls back to
   * the root that registered it before, or waits for the next registration.
   */
  queueTarget(): QueueReadyTarget {
    const root = this.rootId;
    let target = this.#queueTargets.get(root);
    if (target === undefined) {
      const vm = this;
      target = {
        get live() {
          return vm.failed === null && vm.fnQueueReady !== null;
        },
        queueReady(queueId: number) {
          vm.onQueueReady?.(root, queueId);
        },
      };
      this.#queueTargets.set(root, target);
    }
    return target;
  }

  /**
   * Calls a root-context callback with four arguments after the context id
   * (proxy_on_http_call_response): as call(), under the same cpu_ms budget; the streams it acted on
   * (set_effective_context + continue_stream / send_local_response) act once it has returned.
   */
  callRoot(fn: GuestFn, phase: Phase, a: number, b: number, c: number, d: number, root = this.rootId): void {
    if (this.specs.length > 1) this.#enterRoot(root);
    this.#currentSlot = -1;
    const id = this.rootId;
    this.currentId = id;
    this.phase = phase;
    const timed = this.budget.begin(CALLBACK_NAMES[phase], this.spec.limits.cpuMs);
    const act = activity;
    act[FILTER] = this.#filterIndex;
    act[CALLBACK] = phase;
    act[REQUEST] = -1;
    this.#inCall = true;
    try {
      (fn as (...args: number[]) => unknown)(id, a, b, c, d);
    } catch (err) {
      this.failed = describeGuestError(err) + this.#lastLog();
      this.failedKind = faultKind(err, this.lastErrorLog, memoryAtCap(this));
      this.httpCalls.cancelAll();
      if (err instanceof DeadlineExceeded)
        this.spec.logger.error(
          { code: 'OUTRIGGER_FILTER_DEADLINE', callback: err.callback, reqId: null, budgetMs: err.budgetMs, elapsedMs: Math.round(err.elapsedMs) },
          `filter stopped: ${err.message} (limits.cpu_ms); its instance is replaced`,
        );
      throw err;
    } finally {
      if (timed) this.budget.end();
      act[FILTER] = -1;
      act[CALLBACK] = Phase.None;
      this.#currentSlot = -1;
      this.currentId = 0;
      this.phase = Phase.None;
      this.#inCall = false;
      if (this.#touched !== null || this.#deferred !== null) this.#runAfterCall(null);
    }
  }

  /** proxy_set_tick_period_milliseconds: 0 stops the timer. */
  setTickPeriod(ms: number, root = this.rootId): void {
    this.#tickTimers.get(root)?.cancel();
    this.#tickTimers.delete(root);
    if (ms > 0 && this.fnTick && this.failed === null)
      this.#tickTimers.set(
        root,
        (this.spec.clock ?? systemClock).every(ms, () => this.onTick?.(root)),
      );
  }

  /** Stops every root's timer (the instance failed or is going away). */
  stopTicks(): void {
    for (const t of this.#tickTimers.values()) t.cancel();
    this.#tickTimers.clear();
  }

  /**
   * Hands bytes to the guest as cpp-host does: nothing allocated for an empty result, exactly `len`
   * bytes otherwise, views re-derived after malloc. Returns a WasmResult.
   */
  returnBytes(bytes: Uint8Array, ptrOut: number, lenOut: number): number {
    const mem = this.memory;
    if (!mem.inBounds(ptrOut, 4) || !mem.inBounds(lenOut, 4)) return WasmResult.InvalidMemoryAccess;
    if (bytes.length === 0) {
      mem.writeU32(ptrOut, 0);
      mem.writeU32(lenOut, 0);
      return WasmResult.Ok;
    }
    const ptr = this.#alloc!(bytes.length) >>> 0;
    if (ptr === 0 || !mem.write(ptr, bytes)) return WasmResult.InvalidMemoryAccess;
    mem.writeU32(ptrOut, ptr);
    mem.writeU32(lenOut, bytes.length);
    return WasmResult.Ok;
  }

  /** returnBytes for a header value or other latin1 string, without an intermediate Buffer. */
  returnLatin1(value: string, ptrOut: number, lenOut: number): number {
    const mem = this.memory;
    if (!mem.inBounds(ptrOut, 4) || !mem.inBounds(lenOut, 4)) return WasmResult.InvalidMemoryAccess;
    const len = value.length;
    if (len === 0) {
      mem.writeU32(ptrOut, 0);
      mem.writeU32(lenOut, 0);
      return WasmResult.Ok;
    }
    const ptr = this.#alloc!(len) >>> 0;
    if (ptr === 0 || !mem.writeLatin1(ptr, value)) return WasmResult.InvalidMemoryAccess;
    mem.writeU32(ptrOut, ptr);
    mem.writeU32(lenOut, len);
    return WasmResult.Ok;
  }

  /** Ends every root context (on_done, on_delete) once no request uses this instance any more. */
  destroy(): void {
    if (this.failed === null && this.rootId !== 0) {
      try {
        for (const root of this.rootIds) {
          if (this.fnDone) this.call(this.fnDone, Phase.Done, null, root, 0, 0);
          if (this.fnDelete) this.call(this.fnDelete, Phase.Delete, null, root, 0, 0);
        }
      } catch {
        // A filter that traps while shutting down has nothing left to lose.
      }
    }
    this.failed ??= 'destroyed';
    for (const dispose of this.onDestroy.splice(0)) dispose();
    this.stopTicks();
    this.onTick = null;
    this.onQueueReady = null;
    // No callback into a dead instance; the calls' sockets go back to their pools.
    this.httpCalls.cancelAll();
    this.onHttpCallResponse = null;
    this.fnHttpCallResponse = null;
    this.#exports = {};
    this.#slots.length = 0;
    this.#live = 0;
    this.memory.attach(null);
    this.#alloc = null;
    this.fnCreate = this.fnRequestHeaders = this.fnRequestBody = this.fnResponseHeaders = null;
    this.fnResponseBody = this.fnLog = this.fnDone = this.fnDelete = this.fnTick = this.fnQueueReady = null;
    this.fnRequestTrailers = this.fnResponseTrailers = null;
  }
}

/** A trap while the linear memory was at (3/4 of) its cap is the allocator's memory.grow failing. */
function memoryAtCap(vm: WasmVm): boolean {
  const mem = vm.memory;
  return mem.attached && mem.byteLength >= MEMORY_REPLACE_FRACTION * vm.spec.limits.memoryMb * 1048576;
}
