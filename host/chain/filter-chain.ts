// Runs one request through an ordered list of filters, as Envoy's filter manager does: request
// callbacks in order, response callbacks in reverse; a stop pauses the direction at that filter
// until it resumes; body data stops at a buffering filter and accumulates there. Knows neither
// HTTP sockets nor Wasm: it talks to FilterInstance on one side and a ChainSink on the other. Given a
// ChainBatch, the header phases and the closing run at the end of the event-loop turn, together with
// the other requests' (chain-batch.ts); without one, at once.

import { BodyBuffer } from './body-buffer.js';
import { Callback, type CallbackTimings, type FilterTimings } from './callback-timings.js';
import type { ChainBatch } from './chain-batch.js';
import { HeaderMap } from './header-map.js';
import { FilterFault, type FilterInstance } from './filter-instance.js';
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus } from '../../abi/enums.js';
import type { HttpStream } from './http-stream.js';
import { LOCAL_REPLY_CONTENT_TYPE, httpDate } from './reply-headers.js';
import { StreamDirection, type LocalReply, type StreamActor } from './stream-actions.js';

/** What the chain hands on once filters let something through. Implemented by the HTTP plumbing. */
export interface ChainSink {
  requestHeaders(): void;
  requestData(body: BodyBuffer, endOfStream: boolean): void;
  responseHeaders(): void;
  responseData(body: BodyBuffer, endOfStream: boolean): void;
  /**
   * The message's trailers (stream.requestTrailers / responseTrailers) passed every filter: they end
   * it (the last data had no end_of_stream). Optional: a sink without them gets an empty end of stream.
   */
  requestTrailers?(): void;
  responseTrailers?(): void;
  /** A filter failed closed or a buffer overflowed: send this as is instead of the upstream's response. */
  localReply(reply: LocalReply): void;
  /**
   * A filter answered during the request phase: stop the upstream; the reply's headers and body then
   * come through responseHeaders/responseData like an upstream response. False when it is too late.
   */
  beginLocalReply(endOfStream: boolean): boolean;
  /** A filter reset the stream, or a body overflowed after headers went out. */
  reset(reason: string): void;
}

export interface ChainLimits {
  maxBufferedBody: number;
  /** How long a filter may hold the stream when nothing but the filter can resume it. */
  filterHoldTimeoutMs: number;
}

export interface ChainEvents {
  /** A filter trapped during this request (already recovered by the instance). */
  fault(filter: FilterInstance, err: FilterFault): void;
  /** Every filter context of this request has ended (on_log, on_done, on_delete ran): after close(). */
  closed(): void;
}

const EMPTY = Buffer.alloc(0);

const enum BodyMode {
  Buffer,
  LatestChunk,
}

class Direction {
  readonly bit: StreamDirection;
  readonly order: readonly number[];
  headersDone = false;
  /** Position in `order` of the filter holding the headers, or -1. */
  headersPausedAt = -1;
  headersEos = false;
  /**
   * Body that arrived before the headers passed. Held by a filter (heldByFilter), it is delivered in
   * one call once they pass, as Envoy does; otherwise it only waited for the turn's batch, and goes
   * on chunk by chunk, as if it had arrived after them.
   */
  held: BodyBuffer | null = null;
  heldEos = false;
  heldByFilter = false;
  /** Position of the filter holding body data, and what it holds. */
  bodyPausedAt = -1;
  bodyMode = BodyMode.Buffer;
  body: BodyBuffer | null = null;
  /** Whether the held body already ends the stream (a filter stopped at end_of_stream). */
  bodyEos = false;
  ended = false;
  /** Trailers that arrived before the headers passed: run once the held body has gone on. */
  trailersHeld: HeaderMap | null = null;
  /** Position of the filter holding the trailers (a StopIteration from its trailers callback), or -1. */
  trailersPausedAt = -1;
  /** Position of the filter that created trailers in its end-of-stream body callback, or -1 (see #runBody). */
  trailersCreatedAt = -1;
  /** First position that takes part: a local reply goes back only through the filters that saw the request. */
  first = 0;

  constructor(bit: StreamDirection, order: readonly number[]) {
    this.bit = bit;
    this.order = order;
  }
}

/**
 * Envoy's reading of a headers callback's result (cpp-host convertVmCallResultToFilterHeadersStatus):
 * ContinueAndEndStream falls to the default branch and continues; every other non-zero value stops.
 */
function continuesHeaders(status: number): boolean {
  return status === FilterHeadersStatus.Continue || status === FilterHeadersStatus.ContinueAndEndStream;
}

export class FilterChain implements StreamActor {
  readonly #filters: readonly FilterInstance[];
  readonly #stream: HttpStream;
  readonly #sink: ChainSink;
  readonly #limits: ChainLimits;
  readonly #events: ChainEvents;
  readonly #handles: unknown[];
  /** Filters that faulted during this request: never called again for it. */
  #skip: boolean[] | null = null;
  #req: Direction;
  #res: Direction;
  /** Set once a local reply or reset ended the filtering: later events are ignored. */
  #stopped = false;
  #closed = false;
  /** A local reply is travelling back through the response phase. */
  #replying = false;
  #holdTimer: NodeJS.Timeout | null = null;
  readonly #batch: ChainBatch | null;
  /** Still going through the batched phase in progress (see startAll, responseHeadersAll). */
  #inBatch = false;
  readonly #timings: CallbackTimings | null;
  /** Each filter's timings (same order as #filters), when timings are kept. */
  readonly #filterTimings: FilterTimings[] | null;

  constructor(
    filters: readonly FilterInstance[],
    stream: HttpStream,
    sink: ChainSink,
    limits: ChainLimits,
    events: ChainEvents,
    orders: { request: readonly number[]; response: readonly number[] },
    batch: ChainBatch | null = null,
    timings: CallbackTimings | null = null,
  ) {
    this.#timings = timings;
    this.#filterTimings = timings === null ? null : timings.forList(filters);
    this.#filters = filters;
    this.#stream = stream;
    this.#sink = sink;
    this.#limits = limits;
    this.#events = events;
    this.#handles = new Array(filters.length);
    this.#req = new Direction(StreamDirection.Request, orders.request);
    this.#res = new Direction(StreamDirection.Response, orders.response);
    this.#batch = batch;
    stream.actor = this;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** The filters this chain runs (chains sharing them are batched together). */
  get filters(): readonly FilterInstance[] {
    return this.#filters;
  }

  /** Creates every filter's context (so each sees on_log even if an earlier one answers) and runs request headers. */
  start(endOfStream: boolean): void {
    this.#req.headersEos = endOfStream;
    if (this.#batch !== null) {
      this.#batch.start(this);
      return;
    }
    for (let i = 0; i < this.#filters.length; i++) if (!this.#open(i)) return;
    this.#runHeaders(this.#req, 0);
  }

  /** start() for chains sharing one filter list, filter by filter across all of them. */
  static startAll(chains: readonly FilterChain[]): void {
    const n = chains[0].#filters.length;
    for (const c of chains) c.#inBatch = !c.#stopped;
    for (let i = 0; i < n; i++) for (const c of chains) if (c.#inBatch) c.#inBatch = c.#open(i);
    FilterChain.#headersAll(chains, true);
  }

  /** responseHeaders() for chains sharing one filter list, position by position across all of them. */
  static responseHeadersAll(chains: readonly FilterChain[]): void {
    for (const c of chains) c.#inBatch = !c.#stopped;
    FilterChain.#headersAll(chains, false);
  }

  static #headersAll(chains: readonly FilterChain[], isReq: boolean): void {
    const n = chains[0].#filters.length;
    for (let k = 0; k < n; k++) for (const c of chains) if (c.#inBatch) c.#inBatch = !c.#stopped && c.#step(isReq ? c.#req : c.#res, k);
    for (const c of chains) {
      if (!c.#inBatch) continue;
      c.#inBatch = false;
      if (!c.#stopped) c.#headersPassed(isReq ? c.#req : c.#res);
    }
  }

  /** close() for chains sharing one filter list, filter by filter across all of them. */
  static closeAll(chains: readonly FilterChain[]): void {
    const n = chains[0].#filters.length;
    for (let i = 0; i < n; i++) for (const c of chains) c.#closeAt(i);
    for (const c of chains) c.#events.closed();
  }

  /** Creates filter i's context. False when that failed and the chain stopped (fail_closed). */
  #open(i: number): boolean {
    const t0 = this.#timings === null ? -1 : this.#timings.begin();
    try {
      this.#handles[i] = this.#filters[i].open(this.#stream);
    } catch (err) {
      if (t0 >= 0) this.#timed(i, Callback.ContextCreate, t0);
      return this.#fault(i, err);
    }
    if (t0 >= 0) this.#timed(i, Callback.ContextCreate, t0);
    return true;
  }

  requestData(chunk: Buffer, endOfStream: boolean): void {
    this.#data(this.#req, chunk, endOfStream);
  }

  /** The upstream's response headers are in stream.responseHeaders. */
  responseHeaders(endOfStream: boolean): void {
    if (this.#stopped) return;
    this.#res.headersEos = endOfStream;
    if (this.#batch !== null) this.#batch.responseHeaders(this);
    else this.#runHeaders(this.#res, 0);
  }

  responseData(chunk: Buffer, endOfStream: boolean): void {
    this.#data(this.#res, chunk, endOfStream);
  }

  /** The request's trailers arrived (a map of their own, lower-case names): they end the request. */
  requestTrailers(trailers: HeaderMap): void {
    this.#trailers(this.#req, trailers);
  }

  /** The upstream response's trailers arrived: they end the response. */
  responseTrailers(trailers: HeaderMap): void {
    this.#trailers(this.#res, trailers);
  }

  /** The request is over (completed, reset or abandoned): on_log, on_done, on_delete for every context. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopped = true;
    this.#stream.actor = null;
    this.#clearHoldTimer();
    if (this.#batch !== null) {
      this.#batch.close(this);
      return;
    }
    for (let i = 0; i < this.#filters.length; i++) this.#closeAt(i);
    this.#events.closed();
  }

  /** Every context that was made is closed, a faulted filter's too: its instance decides what still runs (nothing after a fault). */
  #closeAt(i: number): void {
    if (this.#handles[i] === undefined) return;
    const t0 = this.#timings === null ? -1 : this.#timings.begin();
    this.#filters[i].close(this.#handles[i], this.#stream);
    if (t0 >= 0) this.#timed(i, Callback.Log, t0);
  }

  #timed(i: number, kind: Callback, t0: number): void {
    (this.#timings as CallbackTimings).end((this.#filterTimings as FilterTimings[])[i], kind, t0);
  }

  // ---- internals -------------------------------------------------------------------------------

  #runHeaders(dir: Direction, from: number): void {
    for (let k = from; k < dir.order.length; k++) if (!this.#step(dir, k)) return;
    this.#headersPassed(dir);
  }

  /** Runs the headers callback at position k. False when the direction stops there (held, answered, failed closed). */
  #step(dir: Direction, k: number): boolean {
    const i = dir.order[k];
    if (this.#skip?.[i]) return true;
    const f = this.#filters[i];
    const isReq = dir === this.#req;
    if (!(isReq ? f.hooks.requestHeaders : f.hooks.responseHeaders)) return true;
    let status: number;
    const t0 = this.#timings === null ? -1 : this.#timings.begin();
    try {
      status = isReq ? f.requestHeaders(this.#handles[i], this.#stream, dir.headersEos) : f.responseHeaders(this.#handles[i], this.#stream, dir.headersEos);
    } catch (err) {
      if (t0 >= 0) this.#timed(i, isReq ? Callback.RequestHeaders : Callback.ResponseHeaders, t0);
      return this.#fault(i, err);
    }
    if (t0 >= 0) this.#timed(i, isReq ? Callback.RequestHeaders : Callback.ResponseHeaders, t0);
    if (this.#afterCallback(dir, k)) return false;
    if (!continuesHeaders(status) && !this.#stream.actions.takeResume(dir.bit)) {
      dir.headersPausedAt = k;
      dir.heldByFilter = true;
      this.#armHoldTimer(i);
      if (dir.held !== null) this.#checkCap(dir, dir.held, i);
      return false;
    }
    return true;
  }

  /** Every filter let the headers through: hand them on, then any body that waited for them. */
  #headersPassed(dir: Direction): void {
    const isReq = dir === this.#req;
    dir.headersDone = true;
    if (isReq) this.#sink.requestHeaders();
    else this.#sink.responseHeaders();
    if (this.#stopped) return;
    if (dir.held !== null || dir.heldEos) {
      const held = dir.held ?? new BodyBuffer();
      dir.held = null;
      if (dir.heldByFilter) this.#runBody(dir, dir.first, held, dir.heldEos);
      else {
        const chunks = held.chunks;
        if (chunks.length === 0) this.#data(dir, EMPTY, dir.heldEos);
        for (let j = 0; j < chunks.length && !this.#stopped; j++) this.#data(dir, chunks[j], dir.heldEos && j === chunks.length - 1);
      }
    }
    const trailers = dir.trailersHeld;
    if (trailers !== null && !this.#stopped) {
      dir.trailersHeld = null;
      this.#trailers(dir, trailers);
    }
  }

  #data(dir: Direction, chunk: Buffer, endOfStream: boolean): void {
    if (this.#stopped || dir.ended) return;
    if (!dir.headersDone) {
      (dir.held ??= new BodyBuffer()).append(chunk);
      dir.heldEos = endOfStream;
      // Capped only while a filter holds the headers: until the turn's batch runs, the proxy holds at
      // most what one turn read, and that is not a filter buffering.
      if (dir.headersPausedAt >= 0) this.#checkCap(dir, dir.held, dir.order[dir.headersPausedAt]);
      return;
    }
    if (dir.bodyPausedAt >= 0) {
      const k = dir.bodyPausedAt;
      const body = dir.bodyMode === BodyMode.Buffer && dir.body ? dir.body : new BodyBuffer();
      body.append(chunk);
      dir.bodyPausedAt = -1;
      dir.body = null;
      if (this.#checkCap(dir, body, dir.order[k])) return;
      this.#runBody(dir, k, body, endOfStream);
      return;
    }
    this.#runBody(dir, dir.first, new BodyBuffer(chunk.length ? [chunk] : []), endOfStream);
  }

  #runBody(dir: Direction, from: number, body: BodyBuffer, endOfStream: boolean): void {
    const order = dir.order;
    const isReq = dir === this.#req;
    const s = this.#stream;
    for (let k = from; k < order.length; k++) {
      const i = order[k];
      if (this.#skip?.[i]) continue;
      const f = this.#filters[i];
      if (!(isReq ? f.hooks.requestBody : f.hooks.responseBody)) continue;
      let status: number;
      // Readable and writable in the callback, and while held at a filter (from a tick, say).
      if (isReq) s.requestBody = body;
      else s.responseBody = body;
      // The last body callback of a message without trailers may create them (trailer-maps.ts).
      const creatable = endOfStream && (isReq ? s.requestTrailers : s.responseTrailers) === null;
      if (creatable) s.trailersCreatable |= dir.bit;
      const t0 = this.#timings === null ? -1 : this.#timings.begin();
      try {
        status = isReq ? f.requestBody(this.#handles[i], s, body.length, endOfStream) : f.responseBody(this.#handles[i], s, body.length, endOfStream);
      } catch (err) {
        s.trailersCreatable = 0;
        if (t0 >= 0) this.#timed(i, isReq ? Callback.RequestBody : Callback.ResponseBody, t0);
        if (!this.#fault(i, err)) return;
        continue;
      }
      if (creatable) {
        s.trailersCreatable = 0;
        if ((isReq ? s.requestTrailers : s.responseTrailers) !== null) {
          // As Envoy: the filters after this one see the body without end_of_stream, then the trailers.
          endOfStream = false;
          dir.trailersCreatedAt = k;
        }
      }
      if (t0 >= 0) this.#timed(i, isReq ? Callback.RequestBody : Callback.ResponseBody, t0);
      if (this.#afterCallback(dir, k)) return;
      if (status !== FilterDataStatus.Continue && !this.#stream.actions.takeResume(dir.bit)) {
        // Held here until more data arrives or, at end of stream, until the filter continues it.
        // NoBuffer (3), and anything above it as Envoy maps it, keeps only the latest chunk.
        dir.bodyPausedAt = k;
        dir.bodyMode = status >= FilterDataStatus.StopIterationNoBuffer || status < 0 ? BodyMode.LatestChunk : BodyMode.Buffer;
        dir.body = body;
        dir.bodyEos = endOfStream;
        if (endOfStream) this.#armHoldTimer(i);
        this.#checkCap(dir, body, i);
        // Created trailers follow the body at once: they meet this filter in its trailers callback.
        if (dir.trailersCreatedAt >= 0 && dir.trailersCreatedAt < k) this.#runCreatedTrailers(dir);
        return;
      }
    }
    if (endOfStream) dir.ended = true;
    if (isReq) s.requestBody = null;
    else s.responseBody = null;
    if (isReq) this.#sink.requestData(body, endOfStream);
    else this.#sink.responseData(body, endOfStream);
    if (dir.trailersCreatedAt >= 0 && !this.#stopped) this.#runCreatedTrailers(dir);
  }

  // ---- trailers ----------------------------------------------------------------------------------
  // As Envoy's filter manager: trailers go through the filters in the direction's order, each filter's
  // callback after it has let all the body through. A filter still holding body data (it stopped a
  // body callback without end_of_stream) gets the trailers callback first; when it continues, what it
  // held goes on (without end_of_stream) and then the trailers. The trailers callback may stop
  // (FilterTrailersStatus StopIteration, or any value above 1) until proxy_continue_stream.

  #trailers(dir: Direction, map: HeaderMap): void {
    if (this.#stopped || dir.ended) return;
    if (!dir.headersDone) {
      // After the headers pass, and the body that waited with them (#headersPassed); not readable before.
      dir.trailersHeld = map;
      return;
    }
    if (dir === this.#req) this.#stream.requestTrailers = map;
    else this.#stream.responseTrailers = map;
    this.#runTrailers(dir, dir.first);
  }

  #runCreatedTrailers(dir: Direction): void {
    const from = dir.trailersCreatedAt + 1;
    dir.trailersCreatedAt = -1;
    this.#runTrailers(dir, from);
  }

  #runTrailers(dir: Direction, from: number): void {
    const order = dir.order;
    const isReq = dir === this.#req;
    for (let k = from; k < order.length; k++) {
      const i = order[k];
      const f = this.#filters[i];
      if (!this.#skip?.[i] && (isReq ? f.hooks.requestTrailers : f.hooks.responseTrailers)) {
        let status: number;
        const t0 = this.#timings === null ? -1 : this.#timings.begin();
        try {
          status = (isReq ? f.requestTrailers?.(this.#handles[i], this.#stream) : f.responseTrailers?.(this.#handles[i], this.#stream)) ?? 0;
        } catch (err) {
          if (t0 >= 0) this.#timed(i, isReq ? Callback.RequestTrailers : Callback.ResponseTrailers, t0);
          if (!this.#fault(i, err)) return;
          status = 0;
        }
        if (t0 >= 0) this.#timed(i, isReq ? Callback.RequestTrailers : Callback.ResponseTrailers, t0);
        if (this.#afterCallback(dir, k)) return;
        if (status !== FilterTrailersStatus.Continue && !this.#stream.actions.takeResume(dir.bit)) {
          dir.trailersPausedAt = k;
          this.#armHoldTimer(i);
          return;
        }
      }
      if (dir.bodyPausedAt === k && !this.#releaseBody(dir)) return;
    }
    dir.ended = true;
    const s = this.#stream;
    if (isReq) s.requestBody = null;
    else s.responseBody = null;
    const sink = this.#sink;
    if (isReq) {
      if (sink.requestTrailers) sink.requestTrailers();
      else sink.requestData(new BodyBuffer(), true);
    } else if (sink.responseTrailers) sink.responseTrailers();
    else sink.responseData(new BodyBuffer(), true);
  }

  /** The trailers passed the filter holding body data: what it held goes on, not as the end of the stream. */
  #releaseBody(dir: Direction): boolean {
    const k = dir.bodyPausedAt;
    const body = dir.body ?? new BodyBuffer();
    dir.bodyPausedAt = -1;
    dir.body = null;
    this.#clearHoldTimer();
    this.#runBody(dir, k + 1, body, false);
    return !this.#stopped;
  }

  /** Carries out what the filter asked for during its callback. True when filtering must stop here. */
  #afterCallback(dir: Direction, k: number): boolean {
    const a = this.#stream.actions;
    const reply = a.takeReply();
    if (reply !== null) {
      a.takeClose();
      if (this.#replying) return false; // a reply to our own reply: Envoy does not loop either
      if (dir === this.#req) this.#replyThroughChain(reply, k);
      else {
        this.#stopped = true;
        this.#sink.localReply(reply);
      }
      return true;
    }
    if (a.takeClose()) {
      this.#stopped = true;
      this.#sink.reset('a filter closed the stream');
      return true;
    }
    // A resume for the other direction, asked from this one, applies at once.
    const other = dir === this.#req ? this.#res : this.#req;
    if (a.takeResume(other.bit)) {
      this.resume(other);
      if (this.#stopped) return true;
    }
    return false;
  }

  /**
   * As Envoy does: a local reply sent during the request phase by the filter at request position k
   * goes back through the response phase of the filters that saw the request (k down to 0), so they
   * can add their headers to it (CORS, request ids) as they would to an upstream response.
   */
  #replyThroughChain(reply: LocalReply, k: number): void {
    const s = this.#stream;
    const req = this.#req;
    req.ended = true;
    req.headersPausedAt = req.bodyPausedAt = -1;
    this.#clearHoldTimer();
    const noBody = reply.body.length === 0;
    if (!this.#sink.beginLocalReply(noBody)) {
      this.#stopped = true;
      return;
    }
    this.#replying = true;
    const flat = [':status', String(reply.status), ...reply.headers];
    if (noBody === false && !reply.headers.includes('content-type')) flat.push('content-type', LOCAL_REPLY_CONTENT_TYPE);
    flat.push('content-length', String(reply.body.length), 'date', httpDate());
    s.responseHeaders = new HeaderMap(flat);
    s.responseCode = reply.status;
    s.info.codeDetails = reply.details;
    const res = this.#res;
    res.first = res.order.length - 1 - k;
    res.headersEos = noBody;
    if (!noBody) {
      res.held = new BodyBuffer([reply.body]);
      res.heldEos = true;
    }
    this.#runHeaders(res, res.first);
  }

  /**
   * StreamActor: a filter acted on this stream from outside its callbacks (proxy_continue_stream from
   * a tick or a call's response, an instance that died under it). Called only after that callback
   * has returned (WasmVm runs it as an after-call action), never from inside a host call.
   */
  act(): void {
    if (this.#stopped) return;
    const a = this.#stream.actions;
    const fault = a.takeFault();
    if (fault !== null) {
      this.#faultWhilePaused(this.#filters.indexOf(fault.filter), fault.error);
      return;
    }
    if (a.ending) {
      // A reply to a request still held by a filter goes back through the chain from that filter.
      const req = this.#req;
      const k = req.headersPausedAt >= 0 ? req.headersPausedAt : req.bodyPausedAt >= 0 ? req.bodyPausedAt : req.trailersPausedAt;
      if (a.hasReply && k >= 0 && !this.#res.headersDone) this.#afterCallback(req, k);
      else this.#afterCallback(this.#res, -1);
      return;
    }
    for (const dir of [this.#req, this.#res]) {
      if (a.takeResume(dir.bit)) {
        this.resume(dir);
        if (this.#stopped) return;
      }
    }
  }

  /** proxy_continue_stream from a later callback: pick up where the direction stopped. */
  private resume(dir: Direction): void {
    if (this.#stopped) return;
    this.#clearHoldTimer();
    if (dir.trailersPausedAt >= 0) {
      const k = dir.trailersPausedAt;
      dir.trailersPausedAt = -1;
      if (dir.bodyPausedAt === k && !this.#releaseBody(dir)) return;
      this.#runTrailers(dir, k + 1);
    } else if (dir.headersPausedAt >= 0) {
      const k = dir.headersPausedAt;
      dir.headersPausedAt = -1;
      this.#runHeaders(dir, k + 1);
    } else if (dir.bodyPausedAt >= 0 && dir.body) {
      const k = dir.bodyPausedAt;
      const body = dir.body;
      dir.bodyPausedAt = -1;
      dir.body = null;
      this.#runBody(dir, k + 1, body, dir.bodyEos);
    }
  }

  /**
   * The instance of filter i died (a trap in another request or in a tick) while this stream was
   * paused on it: nothing would ever resume it. Apply the filter's policy now.
   */
  #faultWhilePaused(i: number, error: Error): void {
    if (i < 0 || this.#skip?.[i]) return;
    const pausedHere = (d: Direction) =>
      (d.headersPausedAt >= 0 && d.order[d.headersPausedAt] === i) ||
      (d.bodyPausedAt >= 0 && d.order[d.bodyPausedAt] === i) ||
      (d.trailersPausedAt >= 0 && d.order[d.trailersPausedAt] === i);
    const paused = [this.#req, this.#res].filter(pausedHere);
    if (paused.length === 0) return; // its next callback will fail and apply the policy then
    if (!this.#fault(i, error)) return;
    for (const d of paused) this.resume(d);
  }

  /** A filter stopped the stream and only it can resume it: don't let it hold the stream forever. */
  #armHoldTimer(i: number): void {
    this.#clearHoldTimer();
    const ms = this.#limits.filterHoldTimeoutMs;
    this.#holdTimer = setTimeout(() => {
      this.#holdTimer = null;
      const f = this.#filters[i];
      this.#faultWhilePaused(
        i,
        new FilterFault(f.name, `held the request for ${ms} ms without continuing it (filter_hold_timeout_ms)`, { code: 'OUTRIGGER_FILTER_HOLD_TIMEOUT' }),
      );
    }, ms);
    this.#holdTimer.unref();
  }

  #clearHoldTimer(): void {
    if (this.#holdTimer !== null) {
      clearTimeout(this.#holdTimer);
      this.#holdTimer = null;
    }
  }

  /** Over the buffer cap: 413 for a request, 500 for a response (Envoy's answers). `i`: the filter buffering. */
  #checkCap(dir: Direction, body: BodyBuffer, i: number): boolean {
    if (body.length <= this.#limits.maxBufferedBody) return false;
    this.#stopped = true;
    const isReq = dir === this.#req;
    this.#sink.localReply({
      status: isReq ? 413 : 500,
      body: Buffer.from(isReq ? 'request body too large for a buffering filter\n' : 'response body too large for a buffering filter\n'),
      headers: ['x-outrigger-error', isReq ? 'OUTRIGGER_REQUEST_BODY_TOO_LARGE' : 'OUTRIGGER_RESPONSE_BODY_TOO_LARGE'],
      details: isReq ? 'request_payload_too_large' : 'response_payload_too_large',
      filter: this.#filters[i].name,
    });
    return true;
  }

  /** A filter faulted: fail open (skip it) or closed (503). Returns true when the chain goes on. */
  #fault(i: number, err: unknown): boolean {
    const f = this.#filters[i];
    if (!(err instanceof FilterFault)) throw err;
    (this.#skip ??= new Array(this.#filters.length).fill(false))[i] = true;
    this.#events.fault(f, err);
    this.#stream.actions.discardRequests();
    if (f.policy === 'fail_open') return true;
    this.#stopped = true;
    this.#sink.localReply({
      status: 503,
      body: Buffer.from(`filter "${f.name}" failed; see the proxy log\n`),
      headers: ['x-outrigger-error', 'OUTRIGGER_FILTER_FAILED', 'x-outrigger-filter', f.name],
      details: 'wasm_fail_stream',
      filter: f.name,
    });
    return false;
  }
}
