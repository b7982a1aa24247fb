// A filter as the chain sees it (FilterInstance), run in-process on a WasmVm. After a fault (trap,
// abort, proc_exit, deadline, memory) the VM is poisoned: requests that were using it get the
// filter's on_error policy, and a fresh VM made from the same compiled module takes over, after a
// backoff that grows while the faults keep coming. Too many faults in the window open the filter's
// crash-loop breaker (crash-breaker.ts): on_error applies without running the filter until one
// half-open trial request on a fresh VM succeeds.
//
// Filters and services naming the same vm_id and file share one instance (as Envoy shares a VM):
// each is a WasmFilter with its own root context in it, and the instance, its replacement, the
// fault counters and the breaker belong to all of them (SharedInstance): a fault in any root's or
// stream's callback replaces the instance for every one, which starts all their root contexts again.

import { FilterHeadersStatus } from '../../abi/enums.js';
import type { AbiVersion } from '../../abi/functions.js';
import { FilterFault, type FailurePolicy, type FaultKind, type FilterHealthState, type FilterHooks, type FilterInstance } from '../chain/filter-instance.js';
import type { HttpStream } from '../chain/http-stream.js';
import { OutriggerError } from '../errors.js';
import { MEMORY_REPLACE_FRACTION } from '../limits.js';
import { userSourceFrame, wasmBacktrace } from './backtrace.js';
import { CrashBreaker, type BreakerConfig } from './crash-breaker.js';
import { faultKind } from './fault-kind.js';
import { DeadlineExceeded, describeGuestError } from './guest-errors.js';
import type { HttpCallResponse } from './http-call-dispatcher.js';
import { responseView } from './http-calls.js';
import { Phase, WasmVm, type PluginSpec } from './wasm-vm.js';
import { wasmMemoryReleased } from './wasm-memory-reclaim.js';

interface Handle {
  vm: WasmVm;
  id: number;
  /** No callback but on_context_create has run: the context can move to a fresh VM unnoticed. */
  fresh: boolean;
  /** The half-open breaker's trial request: its success closes the breaker. */
  trial: boolean;
  /** This request's callback faulted on this filter. */
  faulted: boolean;
}

/** What the plugins sharing one instance share: the instance itself, its faults and its breaker. */
class SharedInstance {
  readonly module: WebAssembly.Module;
  readonly abi: AbiVersion;
  /** Each member's plugin, in member order: root context i of every instance is specs[i]'s. */
  readonly specs: PluginSpec[];
  readonly breaker: CrashBreaker;
  readonly members: WasmFilter[] = [];
  vm!: WasmVm;
  /** Every VM not yet destroyed (the current one, and replaced ones still finishing requests). */
  readonly instances = new Set<WasmVm>();
  /** Earliest time (ms since the epoch) the failed VM may be replaced; the backoff between replacements. */
  replaceAt = 0;
  replaceTimer: NodeJS.Timeout | null = null;
  traps = 0;
  readonly faults: Record<FaultKind, number> = { trap: 0, deadline: 0, memory: 0, exit: 0 };
  lastError: string | null = null;
  lastBacktrace: string[] = [];
  unknownImports: string[] = [];
  /** A service's half-open trial instance (see #scheduleServiceTrial), or null. */
  trialVm: WasmVm | null = null;
  released = false;

  constructor(module: WebAssembly.Module, abi: AbiVersion, specs: PluginSpec[], breaker: BreakerConfig) {
    this.module = module;
    this.abi = abi;
    this.specs = specs;
    this.breaker = new CrashBreaker(breaker);
  }

  /** No member serves requests: no request can be the breaker's half-open trial. */
  get rootOnly(): boolean {
    return this.specs.every((s) => s.rootOnly === true);
  }
}

export class WasmFilter implements FilterInstance {
  readonly name: string;
  readonly policy: FailurePolicy;
  hooks: FilterHooks = { requestHeaders: false, requestBody: false, responseHeaders: false, responseBody: false };
  readonly abi: AbiVersion;
  /** This member's own plugin (its logger names it). */
  readonly #spec: PluginSpec;
  readonly #c: SharedInstance;
  /** Which root context of the shared instance is this member's. */
  readonly #index: number;
  #released = false;

  /** Instance deaths of any kind (the sum of `faults`); shared by the members of one instance. */
  get traps(): number {
    return this.#c.traps;
  }
  /** Instance deaths by kind. */
  get faults(): Record<FaultKind, number> {
    return this.#c.faults;
  }
  get lastError(): string | null {
    return this.#c.lastError;
  }
  /** Wasm frames of the last fault, innermost first, with names from the module's name section. */
  get lastBacktrace(): string[] {
    return this.#c.lastBacktrace;
  }
  /** `module.name` of imports Outrigger does not provide (they answer Unimplemented or 0 if called). */
  get unknownImports(): string[] {
    return this.#c.unknownImports;
  }
  /** The names of every plugin sharing this filter's instance (itself included). */
  get sharedWith(): string[] {
    return this.#c.specs.map((sp) => sp.name);
  }

  /**
   * Starts the plugins of `members` on one shared instance (one root context each, in this order):
   * filters and services naming the same vm_id and file. Throws OutriggerError if any cannot start.
   */
  static group(module: WebAssembly.Module, abi: AbiVersion, members: { spec: PluginSpec; policy: FailurePolicy }[], breaker: BreakerConfig): WasmFilter[] {
    const core = new SharedInstance(
      module,
      abi,
      members.map((m) => m.spec),
      breaker,
    );
    const out = members.map((m, i) => new WasmFilter(module, abi, m.spec, m.policy, breaker, { core, index: i }));
    out[0].#startShared();
    return out;
  }

  /** Starts the first VM; throws OutriggerError if the filter cannot start. */
  constructor(
    module: WebAssembly.Module,
    abi: AbiVersion,
    spec: PluginSpec,
    policy: FailurePolicy,
    breaker: BreakerConfig,
    share?: { core: SharedInstance; index: number },
  ) {
    this.name = spec.name;
    this.policy = policy;
    this.abi = abi;
    this.#spec = spec;
    this.#c = share?.core ?? new SharedInstance(module, abi, [spec], breaker);
    this.#index = share?.index ?? 0;
    this.#c.members.push(this);
    if (!share) this.#startShared();
  }

  /** Starts the shared instance: every member's root context, then the load-time checks. */
  #startShared(): void {
    const c = this.#c;
    c.vm = this.#newVm();
    try {
      c.vm.start();
    } catch (err) {
      this.#destroy(c.vm);
      throw err;
    }
    const vm = c.vm;
    for (const m of c.members) if (!m.#spec.rootOnly) m.#probeHttpContext(vm);
    c.unknownImports = vm.unknownImports;
    if (c.unknownImports.length)
      this.#spec.logger.warn(
        { code: 'OUTRIGGER_WASM_UNKNOWN_IMPORTS', unknown_imports: c.unknownImports },
        `the module imports functions Outrigger does not provide: ${c.unknownImports.join(', ')}; calls to them fail (strict_imports: true refuses such a module)`,
      );
    const hooks = {
      requestHeaders: vm.fnRequestHeaders !== null,
      requestBody: vm.fnRequestBody !== null,
      responseHeaders: vm.fnResponseHeaders !== null,
      responseBody: vm.fnResponseBody !== null,
      requestTrailers: vm.fnRequestTrailers !== null,
      responseTrailers: vm.fnResponseTrailers !== null,
    };
    for (const m of c.members) m.hooks = hooks;
  }

  /** This member's root context id in `vm`. */
  #root(vm: WasmVm): number {
    return vm.rootIds[this.#index];
  }

  /** The member whose root context `root` is in `vm`. */
  #memberOf(vm: WasmVm, root: number): WasmFilter {
    const i = vm.rootIds.indexOf(root);
    return this.#c.members[Math.max(i, 0)];
  }

  /**
   * A chain filter must be able to make an HTTP context. A root-only plugin (a background service:
   * the Rust SDK's root without get_type, Envoy's singleton WasmService) traps creating one, which as
   * a chain entry would fail every request: refuse it at load, pointing at `services:`.
   */
  #probeHttpContext(vm: WasmVm): void {
    const trapped = vm.probeStreamContext(this.#root(vm));
    if (trapped === null) return;
    this.#destroy(vm);
    throw new OutriggerError(
      'OUTRIGGER_FILTER_ROOT_ONLY',
      `${this.name}: the module cannot make an HTTP context (proxy_on_context_create for a stream failed: ${trapped}); it looks like a root-only plugin (a background service), which would fail every request in the chain`,
      'list it under services: instead of filters: (same keys but on_error); see the Configuration section of README.md',
    );
  }

  #newVm(): WasmVm {
    const c = this.#c;
    const vm = new WasmVm(c.module, this.abi, c.specs[0], c.specs.slice(1));
    vm.onTick = (root) => this.#memberOf(vm, root).#tick(vm, root);
    vm.onQueueReady = (root, queueId) => this.#memberOf(vm, root).#queueReady(vm, root, queueId);
    // A root callback run from the event loop (a gRPC completion) trapped: the instance's fault.
    vm.onRootFault = (err, callback) => {
      this.#memberOf(vm, vm.rootId).#fault(vm, err, null, callback);
    };
    vm.onHttpCallResponse = (token, res, root) => this.#memberOf(vm, root).#httpCallResponse(vm, token, res, root);
    c.instances.add(vm);
    return vm;
  }

  #destroy(vm: WasmVm): void {
    const bytes = vm.memory.attached ? vm.memory.byteLength : 0;
    vm.destroy();
    this.#c.instances.delete(vm);
    wasmMemoryReleased(bytes, this.#spec.logger);
  }

  /** proxy_on_tick on the root context. A fault here poisons the VM like any other. */
  #tick(vm: WasmVm, root: number): void {
    if (vm.failed !== null || !vm.fnTick) {
      vm.setTickPeriod(0, root);
      return;
    }
    try {
      vm.call(vm.fnTick, Phase.Tick, null, root, 0, 0);
      if (vm === this.#c.trialVm) this.#serviceTrialSucceeded();
    } catch (err) {
      vm.stopTicks();
      this.#fault(vm, err, null, 'proxy_on_tick');
    }
  }

  /** proxy_on_queue_ready on the root context, from the queue registry's flush (never inside a host call). */
  #queueReady(vm: WasmVm, root: number, queueId: number): void {
    if (vm.failed !== null || !vm.fnQueueReady) return;
    try {
      vm.call(vm.fnQueueReady, Phase.QueueReady, null, root, queueId, 0);
      if (vm === this.#c.trialVm) this.#serviceTrialSucceeded();
    } catch (err) {
      vm.stopTicks();
      this.#fault(vm, err, null, 'proxy_on_queue_ready');
    }
  }

  /**
   * A service has no requests to be the half-open trial: when its breaker's wait has passed, a fresh
   * instance is started (the trial); its first root callback returning without a fault (a tick, a
   * queue wake), or window_ms with no fault at all, closes the breaker; a fault reopens it.
   */
  #scheduleServiceTrial(): void {
    this.#clearReplaceTimer();
    this.#c.replaceTimer = setTimeout(
      () => {
        this.#c.replaceTimer = null;
        if (this.#c.released || !this.#c.breaker.tryHalfOpen(Date.now())) return;
        this.#spec.logger.info(
          { code: 'OUTRIGGER_FILTER_BREAKER_HALF_OPEN', filter: this.name },
          'crash-loop breaker half-open: a fresh service instance is the trial',
        );
        let fresh: WasmVm;
        try {
          fresh = this.#replace();
        } catch {
          // Counted and logged by #replace (#fault reopened the breaker and scheduled the next trial).
          return;
        }
        this.#c.trialVm = fresh;
        const quiet = setTimeout(() => {
          if (this.#c.trialVm === fresh && fresh.failed === null) this.#serviceTrialSucceeded();
        }, this.#c.breaker.config.windowMs);
        quiet.unref();
      },
      Math.max(0, this.#c.breaker.retryAt - Date.now()),
    );
    this.#c.replaceTimer.unref();
  }

  #serviceTrialSucceeded(): void {
    this.#c.trialVm = null;
    if (this.#c.breaker.state !== 'half_open') return;
    this.#c.breaker.trialSucceeded();
    this.#spec.logger.info({ code: 'OUTRIGGER_FILTER_BREAKER_CLOSED', filter: this.name }, 'crash-loop breaker closed: the fresh service instance runs');
  }

  /**
   * proxy_on_http_call_response on the root context, from the event loop: the response readable
   * through maps 6/7 and buffer 4 for the callback's length; a failed call has zero headers (the
   * maps and body empty). A fault here poisons the VM like any other.
   */
  #httpCallResponse(vm: WasmVm, token: number, res: HttpCallResponse | null, root: number): void {
    if (vm.failed !== null || vm.fnHttpCallResponse === null) return;
    const view = responseView(res) ?? responseView({ headers: [], body: Buffer.alloc(0), trailers: [] })!;
    vm.httpCalls.response = view;
    try {
      vm.callRoot(vm.fnHttpCallResponse, Phase.HttpCallResponse, token, res === null ? 0 : view.headers.count, view.body.length, view.trailers.count, root);
    } catch (err) {
      this.#fault(vm, err, null, 'proxy_on_http_call_response');
    } finally {
      vm.httpCalls.response = null;
    }
  }

  get healthy(): boolean {
    return this.healthState === 'active';
  }

  /** active / degraded / open, for /filters, /readyz and /metrics. */
  get healthState(): FilterHealthState {
    if (this.#c.breaker.state !== 'closed') return 'open';
    return this.#c.vm.failed === null ? 'active' : 'degraded';
  }

  /** When an open breaker lets its next trial request through, or null when it is not open. */
  get retryAt(): Date | null {
    return this.#c.breaker.state === 'closed' ? null : new Date(this.#c.breaker.retryAt);
  }

  /** VMs alive for this filter: 1 normally, more while replaced ones finish their requests. */
  get liveInstances(): number {
    return this.#c.instances.size;
  }

  /** Size of the live instance's linear memory (what a filter's heap has grown to). */
  get memoryBytes(): number {
    return this.#c.vm.memory.attached ? this.#c.vm.memory.byteLength : 0;
  }

  #breakerOpenFault(): FilterFault {
    const b = this.#c.breaker;
    const when = b.state === 'half_open' ? 'a trial request is running' : `retry at ${new Date(b.retryAt).toISOString()}`;
    return new FilterFault(
      this.name,
      `crash-loop breaker open (${b.config.maxFaults} faults within ${b.config.windowMs} ms; ${when}); last error: ${this.lastError}`,
      {
        code: 'OUTRIGGER_FILTER_BREAKER_OPEN',
      },
    );
  }

  /**
   * The VM a new request runs on: the current one, or a fresh one when the current one failed and
   * its backoff has passed, or (breaker open, retry time come) a fresh one for the half-open trial.
   * Throws FilterFault (no instance death) when the filter must not run now.
   */
  #acquire(): { vm: WasmVm; trial: boolean } {
    const b = this.#c.breaker;
    const now = Date.now();
    if (b.state === 'half_open') throw this.#breakerOpenFault();
    if (b.state === 'open') {
      if (!b.tryHalfOpen(now)) throw this.#breakerOpenFault();
      this.#spec.logger.info(
        { code: 'OUTRIGGER_FILTER_BREAKER_HALF_OPEN', filter: this.name },
        'crash-loop breaker half-open: one request goes to a fresh instance',
      );
      return { vm: this.#replace(), trial: true };
    }
    const vm = this.#c.vm;
    if (vm.failed === null) return { vm, trial: false };
    if (now < this.#c.replaceAt)
      throw new FilterFault(
        this.name,
        `the filter's instance faulted and is replaced in ${this.#c.replaceAt - now} ms (backoff); last error: ${this.lastError}`,
        {
          code: 'OUTRIGGER_FILTER_DEGRADED',
        },
      );
    return { vm: this.#replace(), trial: false };
  }

  /** Starts a fresh VM in place of the current one. A start that fails counts as a fault. */
  #replace(): WasmVm {
    this.#clearReplaceTimer();
    const old = this.#c.vm;
    const fresh = this.#newVm();
    try {
      fresh.start();
    } catch (err) {
      const cause = err instanceof OutriggerError ? (err.cause ?? err) : err;
      this.#destroy(fresh);
      const msg = err instanceof OutriggerError ? err.message : describeGuestError(err);
      const fault = this.#fault(old, cause, null, 'start-up', `fresh instance failed to start: ${msg}`);
      throw fault;
    }
    this.#c.vm = fresh;
    if (old !== fresh && old.liveStreams === 0) this.#destroy(old);
    this.#spec.logger.info({ code: 'OUTRIGGER_FILTER_RESTARTED', filter: this.name }, 'fresh filter instance started after a fault');
    return fresh;
  }

  #clearReplaceTimer(): void {
    if (this.#c.replaceTimer !== null) {
      clearTimeout(this.#c.replaceTimer);
      this.#c.replaceTimer = null;
    }
  }

  /**
   * An instance died: count it by kind, feed the breaker, log it (the same facts /filters shows),
   * schedule the replacement, and tell the requests paused on it. Returns the fault for the request.
   */
  #fault(vm: WasmVm, err: unknown, own: HttpStream | null, callback: string, override?: string): FilterFault {
    // The innermost frame in the filter's own source (a debug build's source map), so the log line says where to look.
    const where = userSourceFrame(err, this.#c.module, this.#spec.sourceMap ?? null);
    const message = override ?? (vm.failed ?? describeGuestError(err)) + (where ? ` at ${where}` : '');
    const kind = vm.failedKind ?? faultKind(err, vm.lastErrorLog, false);
    this.#c.traps++;
    this.#c.faults[kind]++;
    this.#c.lastError = message;
    const frames = wasmBacktrace(err, this.#c.module, this.#spec.sourceMap ?? null);
    if (frames.length || override === undefined) this.#c.lastBacktrace = frames;
    const now = Date.now();
    const wait = this.#c.breaker.fault(now);
    const state = this.healthState;
    const fault = new FilterFault(this.name, message, { cause: err, kind, code: kind === 'deadline' ? 'OUTRIGGER_FILTER_DEADLINE' : undefined });
    this.#spec.logger.error(
      {
        code: fault.code,
        filter: this.name,
        kind,
        callback,
        reqId: own?.id ?? null,
        state,
        faults: { ...this.faults },
        backtrace: this.lastBacktrace,
        retry_at: state === 'open' ? new Date(this.#c.breaker.retryAt).toISOString() : null,
        ...(err instanceof DeadlineExceeded ? { budgetMs: err.budgetMs, elapsedMs: Math.round(err.elapsedMs) } : {}),
      },
      state === 'open'
        ? `filter ${kind} in ${callback}: ${message}; crash-loop breaker open until ${new Date(this.#c.breaker.retryAt).toISOString()}`
        : `filter ${kind} in ${callback}: ${message}; fresh instance in ${wait} ms`,
    );
    // Replace the poisoned instance without waiting for a request (readiness and the admin API show
    // the filter active again); an open breaker instead waits for its half-open trial request.
    if (state === 'degraded' && vm === this.#c.vm) this.#scheduleReplace(now + wait);
    else if (state === 'open' && this.#c.rootOnly && vm === this.#c.vm) this.#scheduleServiceTrial();
    // Requests paused on this instance would wait forever: tell them, once this callback is over.
    // With a shared instance, each stream is told by the member whose context it has there.
    const others = vm.streamRoots().filter(([s]) => s !== own);
    if (others.length)
      queueMicrotask(() => {
        for (const [s, root] of others) {
          const m = this.#memberOf(vm, root);
          s.actions.instanceFaulted({ filter: m, error: new FilterFault(m.name, `the filter's instance faulted during another request (${message})`) });
          s.act();
        }
      });
    return fault;
  }

  #scheduleReplace(at: number): void {
    this.#c.replaceAt = at;
    this.#clearReplaceTimer();
    this.#c.replaceTimer = setTimeout(
      () => {
        this.#c.replaceTimer = null;
        if (this.#c.released || this.#c.breaker.state !== 'closed' || this.#c.vm.failed === null) return;
        try {
          this.#replace();
        } catch {
          // Counted and logged by #replace; it scheduled the next attempt.
        }
      },
      Math.max(0, at - Date.now()),
    );
    this.#c.replaceTimer.unref();
  }

  /**
   * The VM to call for this request. After a fault in another request, a context that has seen only
   * its creation (requests started in the same turn: chain-batch.ts) is re-created on a fresh VM, as
   * if the request had arrived after the fault; any other fails by the filter's policy.
   */
  #ready(h: Handle, stream: HttpStream): WasmVm {
    const vm = h.vm;
    if (vm.failed === null) {
      if (h.fresh) h.fresh = false;
      return vm;
    }
    if (!h.fresh) throw new FilterFault(this.name, `the filter's instance faulted during another request (${vm.failed})`);
    this.#forget(vm, h.id);
    h.fresh = false;
    const next = this.#acquire();
    h.vm = next.vm;
    h.trial ||= next.trial;
    try {
      h.id = next.vm.createStream(stream, this.#root(next.vm));
    } catch (err) {
      h.faulted = true;
      throw this.#fault(next.vm, err, stream, 'proxy_on_context_create');
    }
    return next.vm;
  }

  open(stream: HttpStream): Handle {
    const { vm, trial } = this.#acquire();
    const h: Handle = { vm, id: 0, fresh: true, trial, faulted: false };
    try {
      h.id = vm.createStream(stream, this.#root(vm));
    } catch (err) {
      h.faulted = true;
      throw this.#fault(vm, err, stream, 'proxy_on_context_create');
    }
    return h;
  }

  #invoke(h: Handle, vm: WasmVm, fn: ((...a: number[]) => number) | null, phase: Phase, callback: string, stream: HttpStream, a: number, b: number): number {
    // A module without the callback lets everything through (FilterHeadersStatus / FilterDataStatus Continue).
    if (fn === null) return FilterHeadersStatus.Continue;
    try {
      return vm.call(fn, phase, stream, h.id, a, b);
    } catch (err) {
      h.faulted = true;
      throw this.#fault(vm, err, stream, callback);
    }
  }

  requestHeaders(handle: unknown, stream: HttpStream, endOfStream: boolean): number {
    const h = handle as Handle;
    const vm = this.#ready(h, stream);
    return this.#invoke(h, vm, vm.fnRequestHeaders, Phase.RequestHeaders, 'proxy_on_request_headers', stream, stream.requestHeaders.count, endOfStream ? 1 : 0);
  }

  requestBody(handle: unknown, stream: HttpStream, size: number, endOfStream: boolean): number {
    const h = handle as Handle;
    const vm = this.#ready(h, stream);
    return this.#invoke(h, vm, vm.fnRequestBody, Phase.RequestBody, 'proxy_on_request_body', stream, size, endOfStream ? 1 : 0);
  }

  responseHeaders(handle: unknown, stream: HttpStream, endOfStream: boolean): number {
    const h = handle as Handle;
    const vm = this.#ready(h, stream);
    return this.#invoke(
      h,
      vm,
      vm.fnResponseHeaders,
      Phase.ResponseHeaders,
      'proxy_on_response_headers',
      stream,
      stream.responseHeaders?.count ?? 0,
      endOfStream ? 1 : 0,
    );
  }

  responseBody(handle: unknown, stream: HttpStream, size: number, endOfStream: boolean): number {
    const h = handle as Handle;
    const vm = this.#ready(h, stream);
    return this.#invoke(h, vm, vm.fnResponseBody, Phase.ResponseBody, 'proxy_on_response_body', stream, size, endOfStream ? 1 : 0);
  }

  requestTrailers(handle: unknown, stream: HttpStream): number {
    const h = handle as Handle;
    const vm = this.#ready(h, stream);
    return this.#invoke(h, vm, vm.fnRequestTrailers, Phase.RequestTrailers, 'proxy_on_request_trailers', stream, stream.requestTrailers?.count ?? 0, 0);
  }

  responseTrailers(handle: unknown, stream: HttpStream): number {
    const h = handle as Handle;
    const vm = this.#ready(h, stream);
    return this.#invoke(h, vm, vm.fnResponseTrailers, Phase.ResponseTrailers, 'proxy_on_response_trailers', stream, stream.responseTrailers?.count ?? 0, 0);
  }

  /** on_log, on_done, on_delete, unless the instance died; always ends the context's claim on its VM. */
  close(handle: unknown, stream: HttpStream): void {
    const h = handle as Handle;
    const vm = h.vm;
    if (vm.failed === null && !h.faulted) {
      let callback = 'proxy_on_log';
      try {
        if (vm.fnLog) vm.call(vm.fnLog, Phase.Log, stream, h.id, 0, 0);
        callback = 'proxy_on_done';
        if (vm.fnDone) vm.call(vm.fnDone, Phase.Done, stream, h.id, 0, 0);
        callback = 'proxy_on_delete';
        if (vm.fnDelete) vm.call(vm.fnDelete, Phase.Delete, stream, h.id, 0, 0);
      } catch (err) {
        h.faulted = true;
        this.#fault(vm, err, stream, callback);
      }
    }
    this.#forget(vm, h.id);
    if (h.trial && !h.faulted && vm.failed === null && this.#c.breaker.state === 'half_open') {
      this.#c.breaker.trialSucceeded();
      this.#spec.logger.info({ code: 'OUTRIGGER_FILTER_BREAKER_CLOSED', filter: this.name }, 'crash-loop breaker closed: the trial request succeeded');
    }
  }

  /** Ends context `id`'s claim on `vm`; a VM replaced after a fault is dropped once its last request has finished. */
  #forget(vm: WasmVm, id: number): void {
    vm.forgetStream(id);
    if ((vm !== this.#c.vm || this.#c.released) && vm.liveStreams === 0 && this.#c.instances.has(vm)) this.#destroy(vm);
    else if (vm.liveStreams === 0 && vm.failed === null && vm.memory.byteLength > MEMORY_REPLACE_FRACTION * this.#spec.limits.memoryMb * 1048576)
      this.#recycle(vm);
  }

  /**
   * Replaces an idle instance whose memory grew past 3/4 of its cap: wasm memory never shrinks, so
   * a leaking filter would otherwise stay at its peak. Done after this turn, off the request's path.
   */
  #recycle(vm: WasmVm): void {
    setImmediate(() => {
      if (this.#c.released || vm !== this.#c.vm || vm.liveStreams !== 0 || vm.failed !== null) return;
      const fresh = this.#newVm();
      try {
        fresh.start();
      } catch (err) {
        this.#destroy(fresh);
        this.#spec.logger.error({ code: 'OUTRIGGER_FILTER_RESTART' }, `replacing a grown instance failed: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
      const grown = vm.memory.byteLength;
      this.#c.vm = fresh;
      this.#destroy(vm);
      this.#spec.logger.info(
        { code: 'OUTRIGGER_FILTER_RECYCLED', memoryBytes: grown, capBytes: this.#spec.limits.memoryMb * 1048576 },
        'filter instance replaced: its memory grew past 3/4 of limits.memory_mb',
      );
    });
  }

  /** No generation uses this filter any more: end its root context once its requests are done. */
  release(): void {
    this.#released = true;
    // A shared instance lives while any of its members is in use (a generation, a service slot).
    if (!this.#c.members.every((m) => m.#released)) return;
    this.#c.released = true;
    this.#clearReplaceTimer();
    if (this.#c.vm.liveStreams === 0) this.#destroy(this.#c.vm);
  }
}
