// A filter as the chain sees it (FilterInstance), run in-process on a WasmVm. After a trap the VM is
// poisoned: requests that were using it fail by policy, and the next request gets a fresh VM made
// from the same compiled module, unless the filter keeps trapping (a crash loop), in which case it
// stays failed until the restart window passes.

import type { AbiVersion } from '../../abi/functions.js';
import { FilterFault, type FailurePolicy, type FaultKind, type FilterHealthState, type FilterHooks, type FilterInstance } from '../chain/filter-instance.js';
import type { HttpStream } from '../chain/http-stream.js';
import { FILTER_RESTART_BURST, FILTER_RESTART_WINDOW_MS, MEMORY_REPLACE_FRACTION } from '../limits.js';
import { OutriggerError } from '../errors.js';
import { userSourceFrame, wasmBacktrace } from './backtrace.js';
import { describeGuestError } from './guest-errors.js';
import { Phase, WasmVm, type PluginSpec } from './wasm-vm.js';

interface Handle {
  vm: WasmVm;
  id: number;
  /** No callback but on_context_create has run: the context can move to a fresh VM unnoticed. */
  fresh: boolean;
}

export class WasmFilter implements FilterInstance {
  readonly name: string;
  readonly policy: FailurePolicy;
  readonly hooks: FilterHooks;
  readonly abi: AbiVersion;
  readonly #module: WebAssembly.Module;
  readonly #spec: PluginSpec;
  #vm: WasmVm;
  #restarts: number[] = [];
  /** Counters for the admin API. */
  traps = 0;
  /** Instance deaths by kind (traps counts all of them). */
  readonly faults: Record<FaultKind, number> = { trap: 0, deadline: 0, memory: 0, exit: 0 };
  lastError: string | null = null;
  /** Wasm frames of the last fault, innermost first, with names from the module's name section. */
  lastBacktrace: string[] = [];
  /** `module.name` of imports Outrigger does not provide (they trap if called). */
  unknownImports: string[] = [];
  #released = false;
  #respawnScheduled = false;

  /** Starts the first VM; throws OutriggerError if the filter cannot start. */
  constructor(module: WebAssembly.Module, abi: AbiVersion, spec: PluginSpec, policy: FailurePolicy) {
    this.name = spec.name;
    this.policy = policy;
    this.abi = abi;
    this.#module = module;
    this.#spec = spec;
    this.#vm = this.#newVm();
    this.#vm.start();
    const vm = this.#vm;
    this.hooks = {
      requestHeaders: vm.fnRequestHeaders !== null,
      requestBody: vm.fnRequestBody !== null,
      responseHeaders: vm.fnResponseHeaders !== null,
      responseBody: vm.fnResponseBody !== null,
    };
  }

  #newVm(): WasmVm {
    const vm = new WasmVm(this.#module, this.abi, this.#spec);
    vm.onTick = () => this.#tick(vm);
    return vm;
  }

  /** proxy_on_tick on the root context. A trap here poisons the VM like any other. */
  #tick(vm: WasmVm): void {
    if (vm.failed !== null || !vm.fnTick) {
      vm.setTickPeriod(0);
      return;
    }
    try {
      vm.call(vm.fnTick, Phase.Tick, null, vm.rootId, 0, 0);
    } catch (err) {
      const fault = this.#fault(vm, err);
      vm.setTickPeriod(0);
      this.#spec.logger.error({ code: fault.code }, `filter trapped in proxy_on_tick: ${fault.message}`);
    }
  }

  get healthy(): boolean {
    return this.#vm.failed === null;
  }

  /** active / degraded / open, for /filters, /readyz and /metrics. */
  get healthState(): FilterHealthState {
    return this.healthy ? 'active' : 'degraded';
  }

  /** Size of the live instance's linear memory (what a filter's heap has grown to). */
  get memoryBytes(): number {
    return this.#vm.memory.attached ? this.#vm.memory.byteLength : 0;
  }

  /** The current VM, replacing a failed one first (bounded by the crash-loop window). */
  #liveVm(): WasmVm {
    const vm = this.#vm;
    if (vm.failed === null) return vm;
    const now = Date.now();
    this.#restarts = this.#restarts.filter((t) => now - t < FILTER_RESTART_WINDOW_MS);
    if (this.#restarts.length >= FILTER_RESTART_BURST)
      throw new FilterFault(
        this.name,
        `filter is crash-looping (${this.#restarts.length} restarts in ${FILTER_RESTART_WINDOW_MS / 1000}s); last error: ${this.lastError}`,
      );
    this.#restarts.push(now);
    const fresh = this.#newVm();
    try {
      fresh.start();
    } catch (err) {
      const msg = err instanceof OutriggerError ? err.message : String(err);
      this.lastError = msg;
      this.#spec.logger.error({ code: 'OUTRIGGER_FILTER_RESTART' }, `filter restart failed: ${msg}`);
      throw new FilterFault(this.name, `filter restart failed: ${msg}`);
    }
    this.#spec.logger.warn({ code: 'OUTRIGGER_FILTER_RESTARTED' }, 'filter instance re-created after a trap');
    if (vm.liveStreams === 0) vm.destroy();
    this.#vm = fresh;
    return fresh;
  }

  #fault(vm: WasmVm, err: unknown, own: HttpStream | null = null): FilterFault {
    const backtrace = wasmBacktrace(err, this.#spec.sourceMap ?? null);
    if (backtrace.length) this.lastBacktrace = backtrace;
    // The innermost frame in the filter's own source, so the log line says where to look.
    const where = userSourceFrame(err, this.#spec.sourceMap ?? null);
    const message = (vm.failed ?? describeGuestError(err)) + (where ? ` at ${where}` : '');
    this.traps++;
    const kind = vm.failedKind ?? 'trap';
    this.faults[kind]++;
    this.lastError = message;
    const fault = new FilterFault(this.name, message, { cause: err, kind, code: kind === 'deadline' ? 'OUTRIGGER_FILTER_DEADLINE' : undefined });
    // Replace the poisoned instance right away rather than on the next request: readiness and the
    // admin API show the filter healthy again, and the next request pays no instantiation.
    if (!this.#respawnScheduled) {
      this.#respawnScheduled = true;
      setImmediate(() => {
        this.#respawnScheduled = false;
        if (this.#released) return;
        try {
          this.#liveVm();
        } catch {
          // Logged by #liveVm; the next request tries again (within the crash-loop budget).
        }
      });
    }
    // Requests paused on this instance would wait forever: tell them, once this callback is over.
    const others = vm.streams().filter((s) => s !== own);
    if (others.length)
      queueMicrotask(() => {
        for (const s of others) {
          s.pendingFault = { filter: this, error: new FilterFault(this.name, `the filter's instance trapped during another request (${message})`) };
          s.wake();
        }
      });
    return fault;
  }

  /**
   * The VM to call for this request. After a trap in another request, a context that has seen only
   * its creation (requests started in the same turn: chain-batch.ts) is re-created on a fresh VM, as
   * if the request had arrived after the trap; any other fails by the filter's policy.
   */
  #ready(h: Handle, stream: HttpStream): WasmVm {
    const vm = h.vm;
    if (vm.failed === null) {
      if (h.fresh) h.fresh = false;
      return vm;
    }
    if (!h.fresh) throw new FilterFault(this.name, `the filter's instance trapped during another request (${vm.failed})`);
    this.#forget(vm, h.id);
    const live = this.#liveVm();
    try {
      h.id = live.createStream(stream);
    } catch (err) {
      throw this.#fault(live, err, stream);
    }
    h.vm = live;
    h.fresh = false;
    return live;
  }

  open(stream: HttpStream): Handle {
    const vm = this.#liveVm();
    try {
      return { vm, id: vm.createStream(stream), fresh: true };
    } catch (err) {
      throw this.#fault(vm, err, stream);
    }
  }

  #invoke(h: Handle, vm: WasmVm, fn: ((...a: number[]) => number) | null, phase: Phase, stream: HttpStream, a: number, b: number): number {
    if (fn === null) return 0;
    try {
      return vm.call(fn, phase, stream, h.id, a, b);
    } catch (err) {
      throw this.#fault(vm, err, stream);
    }
  }

  requestHeaders(handle: unknown, stream: HttpStream, endOfStream: boolean): number {
    const h = handle as Handle;
    const vm = this.#ready(h, stream);
    return this.#invoke(h, vm, vm.fnRequestHeaders, Phase.RequestHeaders, stream, stream.requestHeaders.count, endOfStream ? 1 : 0);
  }

  requestBody(handle: unknown, stream: HttpStream, size: number, endOfStream: boolean): number {
    const h = handle as Handle;
    const vm = this.#ready(h, stream);
    return this.#invoke(h, vm, vm.fnRequestBody, Phase.RequestBody, stream, size, endOfStream ? 1 : 0);
  }

  responseHeaders(handle: unknown, stream: HttpStream, endOfStream: boolean): number {
    const h = handle as Handle;
    const vm = this.#ready(h, stream);
    return this.#invoke(h, vm, vm.fnResponseHeaders, Phase.ResponseHeaders, stream, stream.responseHeaders?.count ?? 0, endOfStream ? 1 : 0);
  }

  responseBody(handle: unknown, stream: HttpStream, size: number, endOfStream: boolean): number {
    const h = handle as Handle;
    const vm = this.#ready(h, stream);
    return this.#invoke(h, vm, vm.fnResponseBody, Phase.ResponseBody, stream, size, endOfStream ? 1 : 0);
  }

  close(handle: unknown, stream: HttpStream): void {
    const h = handle as Handle;
    const vm = h.vm;
    if (vm.failed === null) {
      try {
        if (vm.fnLog) vm.call(vm.fnLog, Phase.Log, stream, h.id, 0, 0);
        if (vm.fnDone) vm.call(vm.fnDone, Phase.Done, stream, h.id, 0, 0);
        if (vm.fnDelete) vm.call(vm.fnDelete, Phase.Delete, stream, h.id, 0, 0);
      } catch (err) {
        const fault = this.#fault(vm, err, stream);
        this.#spec.logger.error({ code: fault.code, reqId: stream.id }, `filter trapped while finishing a request: ${fault.message}`);
      }
    }
    this.#forget(vm, h.id);
  }

  /** Ends context `id`'s claim on `vm`; a VM replaced after a trap is dropped once its last request has finished. */
  #forget(vm: WasmVm, id: number): void {
    vm.forgetStream(id);
    if ((vm !== this.#vm || this.#released) && vm.liveStreams === 0) vm.destroy();
    else if (vm.liveStreams === 0 && vm.failed === null && vm.memory.byteLength > MEMORY_REPLACE_FRACTION * this.#spec.limits.memoryMb * 1048576)
      this.#recycle(vm);
  }

  /**
   * Replaces an idle instance whose memory grew past 3/4 of its cap: wasm memory never shrinks, so
   * a leaking filter would otherwise stay at its peak. Done after this turn, off the request's path.
   */
  #recycle(vm: WasmVm): void {
    setImmediate(() => {
      if (this.#released || vm !== this.#vm || vm.liveStreams !== 0 || vm.failed !== null) return;
      const fresh = this.#newVm();
      try {
        fresh.start();
      } catch (err) {
        this.#spec.logger.error({ code: 'OUTRIGGER_FILTER_RESTART' }, `replacing a grown instance failed: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
      const grown = vm.memory.byteLength;
      this.#vm = fresh;
      vm.destroy();
      this.#spec.logger.info(
        { code: 'OUTRIGGER_FILTER_RECYCLED', memoryBytes: grown, capBytes: this.#spec.limits.memoryMb * 1048576 },
        'filter instance replaced: its memory grew past 3/4 of limits.memory_mb',
      );
    });
  }

  /** No generation uses this filter any more: end its root context once its requests are done. */
  release(): void {
    this.#released = true;
    if (this.#vm.liveStreams === 0) this.#vm.destroy();
  }
}
