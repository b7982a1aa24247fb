// gRPC callouts of one filter instance, as Envoy's wasm Context runs them: the host calls
// proxy_grpc_call / _stream / _send / _cancel / _close, and the callbacks proxy_on_grpc_receive_*
// and proxy_on_grpc_close to the root context, always from the event loop once no guest callback is
// running (never inside a host call), under the filter's cpu_ms budget like any callback.
//
// Envoy's shapes, which SDKs rely on:
// - Tokens: calls odd, streams even (cpp-host's nextGrpcCallId / nextGrpcStreamId), so one token space
//   tells them apart.
// - A unary call gets exactly one callback: proxy_on_grpc_receive with the response on success, or
//   proxy_on_grpc_close with the status on failure (an OK status without a message is Internal). No
//   metadata callbacks (Envoy's AsyncRequest has none).
// - A stream gets initial metadata, each message, trailing metadata, then proxy_on_grpc_close.
//   proxy_grpc_close half-closes (more responses may come); proxy_grpc_cancel resets, and nothing is
//   called back after it.
// - An unknown cluster named by its bare name is ParseFailure (Envoy's grpcCall, kept that way for
//   the SDKs: the Rust SDK panics on anything but Ok, ParseFailure and InternalFailure here).
// Calls pending when the instance faults or is destroyed are cancelled (no callback follows).

import { GrpcStatus, MapType, WasmResult } from '../../abi/enums.js';
import { BodyBuffer } from '../chain/body-buffer.js';
import { HeaderMap } from '../chain/header-map.js';
import { MAX_GRPC_CALLS_PER_INSTANCE, MAX_GRPC_CLOSED_STREAMS_KEPT } from '../limits.js';
import { setCallStatus } from './call-status.js';
import type { GrpcCallStream, GrpcStreamEvents } from './grpc-call-dispatcher.js';
import { parseGrpcService } from './grpc-service.js';
import { validHeaderName, validHeaderValue } from './header-syntax.js';
import { parsePairs } from './pairs.js';
import { Phase, type WasmVm } from './wasm-vm.js';

type HostFn = (...args: number[]) => number;
type GuestFn = (...args: number[]) => number;

interface Entry {
  token: number;
  /** The root context that made the call (the one its callbacks go to). */
  root: number;
  unary: boolean;
  stream: GrpcCallStream | null;
  /** The guest half-closed (proxy_grpc_close on a stream). */
  localClosed: boolean;
  /** The last response message of a unary call (Envoy keeps the last one). */
  response: Buffer | null;
}

const isCallToken = (t: number) => (t & 1) === 1;

export class GrpcCalls {
  readonly #vm: WasmVm;
  /** Calls and streams still open on the remote side. */
  readonly #live = new Map<number, Entry>();
  /** Streams the remote side closed but the guest did not (Envoy keeps them for proxy_grpc_close). */
  readonly #remoteClosed = new Set<number>();
  #nextCall = 1;
  #nextStream = 2;
  /** Cluster names already logged as unknown (one line each per instance, not one per call). */
  readonly #reported = new Set<string>();
  /** What the callback in progress may read: map 4 or 5, buffer 5. */
  #map: HeaderMap | null = null;
  #mapType = -1;
  #message: BodyBuffer | null = null;

  constructor(vm: WasmVm) {
    this.#vm = vm;
    vm.onDestroy.push(() => this.cancelAll());
  }

  /** Calls and streams in flight (for tests and /filters). */
  get pending(): number {
    return this.#live.size;
  }

  /** Map 4 / 5 inside its metadata callback; undefined elsewhere (BadArgument, as Envoy). */
  receivedMap(type: number): HeaderMap | undefined {
    return type === this.#mapType && this.#map !== null ? this.#map : undefined;
  }

  /** Buffer 5 inside proxy_on_grpc_receive; null elsewhere. */
  receivedMessage(): BodyBuffer | null {
    return this.#message;
  }

  /** Resets every call and stream; nothing more is called back. */
  cancelAll(): void {
    for (const e of this.#live.values()) e.stream?.cancel();
    this.#live.clear();
    this.#remoteClosed.clear();
  }

  #log(cluster: string, message: string): void {
    if (this.#reported.has(cluster)) return;
    this.#reported.add(cluster);
    this.#vm.spec.logger.warn({ code: 'OUTRIGGER_GRPC_CLUSTER', cluster }, message);
  }

  #token(unary: boolean): number {
    for (;;) {
      let t: number;
      if (unary) {
        t = this.#nextCall;
        this.#nextCall = t >= 0x7ffffffd ? 1 : t + 2;
      } else {
        t = this.#nextStream;
        this.#nextStream = t >= 0x7ffffffe ? 2 : t + 2;
      }
      if (!this.#live.has(t) && !this.#remoteClosed.has(t)) return t;
    }
  }

  /** Shared by proxy_grpc_call and proxy_grpc_stream: checks, starts, writes the token. */
  #start(
    up: [number, number],
    svc: [number, number],
    meth: [number, number],
    md: [number, number],
    tokenOut: number,
    message: Buffer | null,
    timeoutMs: number,
  ): number {
    const vm = this.#vm;
    const mem = vm.memory;
    const upstream = mem.copy(up[0], up[1]);
    const service = mem.string(svc[0], svc[1]);
    const method = mem.string(meth[0], meth[1]);
    const mdBytes = mem.view(md[0], md[1]);
    if (upstream === null || service === null || method === null || mdBytes === null || !mem.inBounds(tokenOut, 4)) return WasmResult.InvalidMemoryAccess;
    const metadata = parsePairs(mdBytes);
    if (metadata === null) return WasmResult.BadArgument;
    for (let i = 0; i < metadata.length; i += 2) {
      metadata[i] = metadata[i].toLowerCase();
      if (!validHeaderName(metadata[i]) || metadata[i][0] === ':' || !validHeaderValue(metadata[i + 1])) return WasmResult.BadArgument;
    }
    if (!service || !method) return WasmResult.BadArgument;
    const target = parseGrpcService(upstream);
    if (target.kind === 'unsupported') {
      this.#log('<google_grpc>', `gRPC call refused: ${target.why}`);
      return WasmResult.BadArgument;
    }
    const dispatcher = vm.spec.grpcCalls;
    if (dispatcher === undefined || !dispatcher.hasCluster(target.cluster)) {
      this.#log(
        target.cluster,
        `gRPC call to unknown cluster "${target.cluster}": ${dispatcher === undefined ? 'no clusters are configured' : 'no such cluster'}; add it under clusters: (h2c://host:port or https://host:port)`,
      );
      // Envoy: ParseFailure for a bare name it cannot find; BadArgument when a parsed GrpcService fails.
      return target.fromProto ? WasmResult.BadArgument : WasmResult.ParseFailure;
    }
    if (this.#live.size >= MAX_GRPC_CALLS_PER_INSTANCE) {
      this.#log('<limit>', `gRPC call refused: ${MAX_GRPC_CALLS_PER_INSTANCE} calls and streams already in flight on this filter instance`);
      return WasmResult.InternalFailure;
    }
    const unary = message !== null;
    const token = this.#token(unary);
    const entry: Entry = { token, root: vm.rootId, unary, stream: null, localClosed: unary, response: null };
    this.#live.set(token, entry);
    entry.stream = dispatcher.start(
      {
        cluster: target.cluster,
        service,
        method,
        metadata: target.metadata.length ? [...target.metadata, ...metadata] : metadata,
        timeoutMs,
        unary,
        authority: target.authority,
      },
      this.#events(entry),
    );
    if (message !== null) entry.stream.send(message, true);
    mem.writeU32(tokenOut, token);
    return WasmResult.Ok;
  }

  /** The transport's events for one call, each carried to the guest from the event loop. */
  #events(e: Entry): GrpcStreamEvents {
    const live = () => this.#live.get(e.token) === e;
    return {
      initialMetadata: (flat) => {
        if (!e.unary) this.#later(e, () => this.#metadata(e, MapType.GrpcReceiveInitialMetadata, flat));
      },
      message: (bytes) => {
        if (e.unary) {
          if (live()) e.response = bytes;
        } else this.#later(e, () => this.#receive(e, bytes));
      },
      trailingMetadata: (flat) => {
        if (!e.unary) this.#later(e, () => this.#metadata(e, MapType.GrpcReceiveTrailingMetadata, flat));
      },
      close: (status, message) => {
        this.#later(e, () => {
          if (e.unary && status === GrpcStatus.Ok) {
            this.#live.delete(e.token);
            if (e.response !== null) this.#receive(e, e.response);
            else this.#close(e, GrpcStatus.Internal, 'the gRPC call ended OK without a response message');
            return;
          }
          this.#close(e, status, message);
        });
      },
    };
  }

  /**
   * Runs `deliver` once no guest callback of this instance is running (WasmVm.afterCall: at once from
   * the event loop, after the callback when a transport reported from inside a host call).
   */
  #later(e: Entry, deliver: () => void): void {
    const run = () => {
      if (this.#live.get(e.token) !== e) return;
      if (this.#vm.failed !== null) {
        this.cancelAll();
        return;
      }
      deliver();
    };
    this.#vm.afterCall(run);
  }

  #guest(name: string, alt?: string): GuestFn | null {
    return this.#vm.guestExport(name) ?? (alt ? this.#vm.guestExport(alt) : null);
  }

  /** Calls a root callback; a trap is the instance's fault (WasmFilter's onRootFault), and ends every call. */
  #call(fn: GuestFn, phase: Phase, name: string, e: Entry, n: number): void {
    const vm = this.#vm;
    try {
      vm.call(fn, phase, null, e.root, e.token, n);
    } catch (err) {
      this.cancelAll();
      vm.onRootFault?.(err, name);
    }
  }

  #metadata(e: Entry, type: MapType, flat: string[]): void {
    const initial = type === MapType.GrpcReceiveInitialMetadata;
    // proxy-runtime exports the trailing callback misspelled (ABI notes §11.1): accept that name too.
    const fn = initial
      ? this.#guest('proxy_on_grpc_receive_initial_metadata')
      : this.#guest('proxy_on_grpc_receive_trailing_metadata', 'proxy_on_grpc_trailing_metadata');
    if (fn === null) return;
    this.#map = new HeaderMap(flat);
    this.#mapType = type;
    try {
      this.#call(
        fn,
        initial ? Phase.GrpcReceiveInitialMetadata : Phase.GrpcReceiveTrailingMetadata,
        initial ? 'proxy_on_grpc_receive_initial_metadata' : 'proxy_on_grpc_receive_trailing_metadata',
        e,
        flat.length >> 1,
      );
    } finally {
      this.#map = null;
      this.#mapType = -1;
    }
  }

  #receive(e: Entry, bytes: Buffer): void {
    const fn = this.#guest('proxy_on_grpc_receive');
    if (fn === null) return;
    this.#message = new BodyBuffer(bytes.length ? [bytes] : []);
    try {
      this.#call(fn, Phase.GrpcReceive, 'proxy_on_grpc_receive', e, bytes.length);
    } finally {
      this.#message = null;
    }
  }

  #close(e: Entry, status: number, message: string): void {
    this.#live.delete(e.token);
    if (!e.localClosed) {
      this.#remoteClosed.add(e.token);
      // Bounded: a filter that never closes its streams must not grow this without end.
      if (this.#remoteClosed.size > MAX_GRPC_CLOSED_STREAMS_KEPT) this.#remoteClosed.delete(this.#remoteClosed.values().next().value!);
    }
    const fn = this.#guest('proxy_on_grpc_close');
    if (fn === null) return;
    const vm = this.#vm;
    setCallStatus(vm, e.root, status, message);
    try {
      this.#call(fn, Phase.GrpcClose, 'proxy_on_grpc_close', e, status);
    } finally {
      // Envoy clears the message once proxy_on_grpc_close returns; the code stays.
      setCallStatus(vm, e.root, status, '');
    }
  }

  /** Token check shared by cancel and close: BadArgument for 0 (neither a call nor a stream), NotFound for unknown. */
  #find(token: number): Entry | number {
    if (token === 0) return WasmResult.BadArgument;
    const e = this.#live.get(token);
    if (e !== undefined) return e;
    return this.#remoteClosed.has(token) ? WasmResult.Ok : WasmResult.NotFound;
  }

  hostFunctions(): Record<string, HostFn> {
    const mem = this.#vm.memory;
    return {
      proxy_grpc_call: (upP, upL, svcP, svcL, mP, mL, mdP, mdL, msgP, msgL, timeoutMs, tokenOut) => {
        const message = mem.copy(msgP, msgL);
        if (message === null) return WasmResult.InvalidMemoryAccess;
        return this.#start([upP, upL], [svcP, svcL], [mP, mL], [mdP, mdL], tokenOut, message, timeoutMs >>> 0);
      },

      proxy_grpc_stream: (upP, upL, svcP, svcL, mP, mL, mdP, mdL, tokenOut) => this.#start([upP, upL], [svcP, svcL], [mP, mL], [mdP, mdL], tokenOut, null, 0),

      proxy_grpc_send: (token, msgP, msgL, endStream) => {
        const t = token >>> 0;
        const e = this.#live.get(t);
        // Envoy: BadArgument for anything but an open stream.
        if (e === undefined || isCallToken(t) || e.localClosed || e.stream === null) return WasmResult.BadArgument;
        const message = mem.copy(msgP, msgL);
        if (message === null) return WasmResult.InvalidMemoryAccess;
        if (endStream) e.localClosed = true;
        e.stream.send(message, endStream !== 0);
        return WasmResult.Ok;
      },

      proxy_grpc_cancel: (token) => {
        const t = token >>> 0;
        const e = this.#find(t);
        if (typeof e === 'number') {
          if (e === WasmResult.Ok) this.#remoteClosed.delete(t);
          return e;
        }
        this.#live.delete(t);
        e.stream?.cancel();
        return WasmResult.Ok;
      },

      proxy_grpc_close: (token) => {
        const t = token >>> 0;
        const e = this.#find(t);
        if (typeof e === 'number') {
          if (e === WasmResult.Ok) this.#remoteClosed.delete(t);
          return e;
        }
        if (e.unary) {
          // Envoy: closing a call cancels it.
          this.#live.delete(t);
          e.stream?.cancel();
        } else if (!e.localClosed) {
          e.localClosed = true;
          e.stream?.close();
        }
        return WasmResult.Ok;
      },
    };
  }
}
