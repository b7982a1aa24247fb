// One downstream request carried to the upstream and back, through the filter chain. Implements the
// chain's sink (what to do once filters let headers or data through, or answer locally) and undici's
// dispatch handler (what the upstream sends back). Bodies stream with back-pressure both ways.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Duplex, Readable } from 'node:stream';
import { util as undiciUtil, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { BodyBuffer } from '../chain/body-buffer.js';
import type { CallbackTimings } from '../chain/callback-timings.js';
import type { ChainBatch } from '../chain/chain-batch.js';
import { FilterChain, type ChainLimits, type ChainSink } from '../chain/filter-chain.js';
import type { FilterFault, FilterInstance } from '../chain/filter-instance.js';
import { HeaderMap } from '../chain/header-map.js';
import { HttpStream, type LocalReply } from '../chain/http-stream.js';
import { ResponseFlag } from '../chain/stream-info.js';
import { LOCAL_REPLY_CONTENT_TYPE, httpDate } from '../chain/reply-headers.js';
import { requestIdOf } from '../chain/request-id.js';
import { recordRequestId } from '../watchdog/activity.js';
import type { Generation } from '../filters/generation.js';
import { DEFAULT_CLIENT_BODY_TIMEOUT_MS } from '../limits.js';
import { watchBodyGaps } from './client-timeouts.js';
import { connectionIdOf } from './connection-id.js';
import { collectEndToEnd, isHopByHop } from './hop-by-hop.js';
import { dispatchAsterisk } from './asterisk-dispatch.js';
import { forwardedProto, requestIdFor } from './forwarded-headers.js';
import type { RequestTarget } from './request-target.js';
import { h2RequestHasBody } from './h2-listener.js';
import { dispatchWithTrailers } from './trailer-dispatch.js';
import { declaredTrailers, trailerPairs, trailersFromRaw, trailersFromUpstream, trailersObject } from './trailers.js';
import { upstreamErrorInfo } from './response-flags.js';
import { dropsFramingHeader, statusHasNoBody } from './response-framing.js';
import { OVERLOADED, upstreamFailure, type UpstreamFailure } from './upstream-failure.js';
import { retryable } from './upstream-retry.js';
import { markUpgraded, tunnel } from './upgrade.js';
import type { Upstream } from './upstream.js';

const EMPTY = Buffer.alloc(0);

export interface ExchangeEnv {
  upstream: Upstream;
  /** Where chain work waits for the end of the event-loop turn (see chain-batch.ts). */
  batch: ChainBatch;
  logger: Logger;
  limits: ChainLimits;
  /** Longest gap between request body bytes (client_body_timeout_ms); default DEFAULT_CLIENT_BODY_TIMEOUT_MS. */
  clientBodyTimeoutMs?: number;
  /** Callback latencies per filter (callback-timings.ts), or null when not kept. */
  timings?: CallbackTimings | null;
  /** Counts outcomes for /metrics-style reporting. */
  stats: { requests: number; upstreamErrors: number; localReplies: number; filterFaults: number };
  /** normalize_path, trust_forwarded_headers, generate_request_id (see README "Configuration"). */
  front: { normalizePath: boolean; trustForwardedHeaders: boolean; generateRequestId: boolean };
}

/** An upgrade request being proxied (upgrade.ts). */
export interface ExchangeUpgrade {
  token: string;
  /** Bytes the client sent after its request head. */
  head: Buffer;
}

let nextId = 0;

function requestHasBody(req: IncomingMessage): boolean {
  if (req.httpVersionMajor === 2) return h2RequestHasBody(req);
  const cl = req.headers['content-length'];
  if (cl !== undefined) return cl !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

export class Exchange implements ChainSink, Dispatcher.DispatchHandler {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #gen: Generation;
  readonly #env: ExchangeEnv;
  readonly #stream: HttpStream;
  readonly #chain: FilterChain;
  readonly #requestEos: boolean;

  #abortUpstream: ((err: Error) => void) | null = null;
  #dispatched = false;
  #upstreamDone = false;
  #awaitFirstRequestData = false;
  #requestBody: Readable | null = null;

  #resumeUpstream: (() => void) | null = null;
  #responseEosAtHeaders = false;
  /**
   * Bytes of a content-length body still to come, or -1 when unknown (chunked). Knowing which
   * chunk is the last lets filters see end_of_stream on it, instead of in one more empty call.
   */
  #responseRemaining = -1;
  #responseEosSent = false;
  #awaitFirstResponseData = false;
  #downstreamBlocked = false;
  /** content-length promised downstream, when not derived from a complete body. */
  #declaredLength = -1;
  #sentBytes = 0;
  #finished = false;
  /** The response comes from a filter, not the upstream: ignore what the aborted upstream reports. */
  #localReplying = false;
  /** What was dispatched, kept while a retry on a new connection may still be needed. */
  #sent: Dispatcher.DispatchOptions | null = null;
  #retried = false;
  #responseStarted = false;
  /** Counted in upstream.active (released once, when undici is done with the request). */
  #holdsUpstream = false;
  /** The pool this request went to (a reload may replace env.upstream meanwhile). */
  #up: Upstream | null = null;
  #queueTimer: NodeJS.Timeout | null = null;
  /** A proxied upgrade (upgrade.ts): the token, the client's bytes after its head, and once the upstream said 101, its socket. */
  readonly #upgrade: ExchangeUpgrade | null;
  #upstreamSocket: Duplex | null = null;
  /** The request's Trailer header (HTTP/1.1 chunked): such a request goes upstream by trailer-dispatch.ts. */
  readonly #declaredTrailers: string | null;

  /** `target`: the request target as resolved and normalized before the filters (request-target.ts). */
  constructor(req: IncomingMessage, res: ServerResponse, gen: Generation, env: ExchangeEnv, target: RequestTarget, upgrade: ExchangeUpgrade | null = null) {
    this.#req = req;
    this.#res = res;
    this.#gen = gen;
    this.#env = env;
    env.stats.requests++;
    const flat: string[] = [':method', req.method ?? 'GET', ':path', target.path, ':authority', target.authority || env.upstream.authority, ':scheme', 'http'];
    collectEndToEnd(req.rawHeaders, flat);
    // An upgrade keeps its Upgrade header for the filters to see (the only hop-by-hop one kept).
    this.#upgrade = upgrade;
    if (upgrade) flat.push('upgrade', upgrade.token);
    // host travels as :authority, as in HTTP/2 and Envoy.
    const headers = new HeaderMap(flat);
    headers.remove('host');
    const front = env.front;
    forwardedProto(headers, 'http', front.trustForwardedHeaders);
    const sock = req.socket;
    const serial = nextId++;
    const id = requestIdFor(headers, front.generateRequestId) ?? requestIdOf(serial);
    recordRequestId(serial, id);
    this.#stream = new HttpStream(id, headers, {
      sourceAddress: sock.remoteAddress ?? '',
      sourcePort: sock.remotePort ?? 0,
      destinationAddress: sock.localAddress ?? '',
      destinationPort: sock.localPort ?? 0,
      protocol: req.httpVersionMajor === 2 ? 'HTTP/2' : `HTTP/${req.httpVersion}`,
      scheme: 'http',
      connectionId: connectionIdOf(sock),
    });
    this.#stream.serial = serial;
    this.#requestEos = !requestHasBody(req);
    // A body that may end in trailers: chunked, or any HTTP/2 body.
    const open = req.headers['transfer-encoding'] !== undefined || (req.httpVersionMajor === 2 && !this.#requestEos);
    this.#declaredTrailers = open ? declaredTrailers(req.headers.trailer) : null;
    this.#chain = new FilterChain(gen.filters, this.#stream, this, env.limits, this, gen.orders, env.batch, env.timings ?? null);
  }

  start(): void {
    const req = this.#req;
    this.#res.once('close', () => this.#finish());
    if (!this.#requestEos) {
      const cl = req.headers['content-length'];
      // Over HTTP/2 trailers may follow a body of known length: its end is the stream's end.
      let remaining = cl !== undefined && req.headers['transfer-encoding'] === undefined && req.httpVersionMajor !== 2 ? Number(cl) : -1;
      let eosSent = false;
      const info = this.#stream.info;
      req.on('data', (chunk: Buffer) => {
        info.requestBodyBytes += chunk.length;
        if (remaining >= 0) remaining -= chunk.length;
        eosSent = remaining === 0;
        this.#chain.requestData(chunk, eosSent);
      });
      req.once('end', () => {
        if (eosSent) return;
        // Trailers end the request instead of an empty end of stream (chain trailers phase).
        const trailers = trailersFromRaw(req.rawTrailers);
        if (trailers !== null) this.#chain.requestTrailers(trailers);
        else this.#chain.requestData(EMPTY, true);
      });
      req.once('error', () => this.#abort(new Error('downstream request aborted')));
      watchBodyGaps(req, this.#env.clientBodyTimeoutMs ?? DEFAULT_CLIENT_BODY_TIMEOUT_MS, () => this.#bodyStalled());
    }
    this.#chain.start(this.#requestEos);
  }

  // ---- ChainEvents ----------------------------------------------------------------------------

  fault(filter: FilterInstance, err: FilterFault): void {
    this.#env.stats.filterFaults++;
    const started = this.#res.headersSent;
    const outcome =
      filter.policy === 'fail_open' ? 'skipped for this request' : started ? 'the response had started: downstream connection closed' : 'request answered 503';
    // A filter that is not run (breaker open, instance being replaced) would log one error per
    // request: its state is in /filters and its fault was logged once, when it happened.
    const quiet = err.code === 'OUTRIGGER_FILTER_BREAKER_OPEN' || err.code === 'OUTRIGGER_FILTER_DEGRADED';
    this.#env.logger[quiet ? 'debug' : 'error'](
      {
        code: err.code,
        kind: err.kind,
        filter: filter.name,
        generation: this.#gen.id,
        reqId: this.#stream.id,
        policy: filter.policy,
        responseStarted: started,
      },
      `filter "${filter.name}" failed: ${err.message} (${outcome})`,
    );
  }

  /** The filters' contexts for this request have ended: the generation may go. */
  closed(): void {
    this.#gen.release();
  }

  // ---- ChainSink: request direction -------------------------------------------------------------

  requestHeaders(): void {
    if (this.#requestEos) this.#dispatch(null);
    else if (this.#gen.requestBodyHooks) this.#awaitFirstRequestData = true;
    else this.#dispatch(this.#makeRequestBody());
  }

  requestData(body: BodyBuffer, endOfStream: boolean): void {
    if (this.#awaitFirstRequestData) {
      this.#awaitFirstRequestData = false;
      if (endOfStream) {
        // The whole (possibly rewritten) body is known: send it with its exact length.
        this.#dispatch(body.bytes());
        return;
      }
      this.#dispatch(this.#makeRequestBody());
    }
    const out = this.#requestBody;
    if (out === null) return;
    for (const c of body.chunks) if (!out.push(c)) this.#req.pause();
    if (endOfStream) out.push(null);
  }

  /** The request's trailers passed the filters: end the body; trailer-dispatch.ts sends them, the pool cannot. */
  requestTrailers(): void {
    if (this.#awaitFirstRequestData) {
      this.#awaitFirstRequestData = false;
      this.#dispatch(this.#makeRequestBody());
    }
    if (this.#declaredTrailers === null && this.#stream.requestTrailers?.count)
      this.#env.logger.debug({ reqId: this.#stream.id }, 'request trailers not forwarded: the request did not declare them (Trailer header)');
    this.#requestBody?.push(null);
  }

  #makeRequestBody(): Readable {
    const req = this.#req;
    this.#requestBody = new Readable({ read: () => req.resume() });
    return this.#requestBody;
  }

  #dispatch(body: Buffer | Readable | null): void {
    if (this.#finished) return;
    const h = this.#stream.requestHeaders.flat;
    const headers: string[] = [];
    let method = 'GET';
    let path = '/';
    let authority = this.#env.upstream.authority;
    let xff: string | undefined;
    let xfp: string | undefined;
    for (let i = 0; i < h.length; i += 2) {
      const k = h[i];
      if (k.charCodeAt(0) === 58 /* : */) {
        if (k === ':method') method = h[i + 1];
        else if (k === ':path') path = h[i + 1];
        else if (k === ':authority') authority = h[i + 1];
        continue;
      }
      if (k === 'x-forwarded-for') xff = xff === undefined ? h[i + 1] : `${xff}, ${h[i + 1]}`;
      else if (k === 'x-forwarded-proto') xfp ??= h[i + 1];
      else if (Buffer.isBuffer(body) && (k === 'content-length' || k === 'transfer-encoding')) continue;
      // The listener already answered 100 Continue; undici refuses the header (UND_ERR_NOT_SUPPORTED).
      else if (k === 'expect') continue;
      else if (!isHopByHop(k)) headers.push(k, h[i + 1]);
      // The upgrade goes as undici's upgrade option, which writes Upgrade and Connection itself.
    }
    // A unix-socket client has no address to append.
    const client = this.#stream.connection.sourceAddress;
    const forwardedFor = client ? (xff ? `${xff}, ${client}` : client) : xff;
    headers.push('host', authority, 'x-forwarded-proto', xfp ?? 'http');
    if (forwardedFor) headers.push('x-forwarded-for', forwardedFor);
    // The one TE an HTTP/2 hop carries (RFC 9113 §8.2.2): gRPC servers look for it.
    if (this.#env.upstream.http2 && /\btrailers\b/i.test(String(this.#req.headers.te ?? ''))) headers.push('te', 'trailers');
    if (Buffer.isBuffer(body) && (body.length > 0 || method !== 'GET')) headers.push('content-length', String(body.length));
    // A request declaring trailers keeps its declaration and chunked framing (trailer-dispatch.ts).
    if (this.#declaredTrailers !== null && body instanceof Readable) headers.push('trailer', this.#declaredTrailers, 'transfer-encoding', 'chunked');
    this.#dispatched = true;
    const opts = {
      method,
      path,
      headers,
      body: Buffer.isBuffer(body) && body.length === 0 && method === 'GET' ? null : body,
      upgrade: this.#upgrade?.token ?? null,
    };
    // A streamed body cannot be sent twice: only a request held whole may be retried (an upgrade
    // neither: its client bytes after the head are already on their way).
    if (!(body instanceof Readable) && this.#upgrade === null) this.#sent = opts;
    this.#send(opts);
  }

  #send(opts: Dispatcher.DispatchOptions, fresh = false): void {
    const up = this.#env.upstream;
    this.#up = up;
    this.#stream.info.upstreamTarget = up.target;
    // Every connection busy: this request waits in the pool's queue, for a bounded time.
    if (up.active >= up.capacity) this.#queueTimer = setTimeout(() => this.#queueTimedOut(), up.queueTimeoutMs);
    up.active++;
    this.#holdsUpstream = true;
    try {
      // OPTIONS * has no path for undici: its own one-off connection (asterisk-dispatch.ts).
      if (opts.path === '*')
        dispatchAsterisk(
          up.target,
          { method: opts.method, headers: opts.headers as string[], body: opts.body as Buffer | Readable | null, timeoutMs: up.timeoutMs },
          this,
        );
      else if (this.#declaredTrailers !== null && opts.body instanceof Readable && !up.http2)
        dispatchWithTrailers(
          up.target,
          {
            method: opts.method,
            path: opts.path,
            headers: opts.headers as string[],
            body: opts.body,
            timeoutMs: up.timeoutMs,
            trailers: () => this.#stream.requestTrailers,
          },
          this,
        );
      else if (fresh) up.dispatchFresh(opts, this);
      else up.dispatch(opts, this);
    } catch (err) {
      this.onError(err as Error);
    }
  }

  #releaseUpstream(): void {
    if (this.#queueTimer !== null) {
      clearTimeout(this.#queueTimer);
      this.#queueTimer = null;
    }
    if (this.#holdsUpstream) {
      this.#holdsUpstream = false;
      if (this.#up) this.#up.active--;
    }
  }

  #queueTimedOut(): void {
    this.#queueTimer = null;
    if (this.#finished || this.#res.headersSent) return;
    this.#env.stats.upstreamErrors++;
    this.#env.logger.warn(
      { code: OVERLOADED.code, reqId: this.#stream.id, upstream: this.#env.upstream.target, maxConnections: this.#env.upstream.maxConnections },
      'no upstream connection free within upstream_queue_timeout_ms; answered 503',
    );
    // The queued request is dropped by onConnect (finished) when a connection frees up.
    this.#localReplying = true;
    this.#requestBody?.destroy();
    this.#stream.info.responseFlags |= ResponseFlag.UpstreamOverflow;
    this.#stream.info.codeDetails = 'upstream_reset_before_response_started{overflow}';
    this.#failureReply(OVERLOADED);
  }

  /** The client left its body idle for client_body_timeout_ms. */
  #bodyStalled(): void {
    if (this.#finished) return;
    this.#env.logger.info({ code: 'OUTRIGGER_CLIENT_TIMEOUT', reqId: this.#stream.id }, 'request body stalled longer than client_body_timeout_ms; closing');
    this.#localReplying = true;
    this.#stream.info.responseFlags |= ResponseFlag.StreamIdleTimeout;
    this.#stopUpstream('client body timeout');
    const res = this.#res;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.shouldKeepAlive = false;
    this.#writeReply(408, Buffer.from('request body stalled (OUTRIGGER_CLIENT_TIMEOUT); send it without pauses\n'), [
      'x-outrigger-error',
      'OUTRIGGER_CLIENT_TIMEOUT',
      'connection',
      'close',
    ]);
    // The rest of the body will not come: do not wait for it to close the connection.
    // (An HTTP/2 stream is reset alone: its connection carries other requests.)
    res.once('finish', () => (this.#req.httpVersionMajor === 2 ? res.destroy() : this.#req.socket.destroySoon()));
  }

  #failureReply(f: UpstreamFailure): void {
    this.#writeReply(f.status, Buffer.from(f.body), ['x-outrigger-error', f.code]);
  }

  // ---- undici DispatchHandler ---------------------------------------------------------------------

  onConnect(abort: (err?: Error) => void): void {
    if (this.#queueTimer !== null) {
      clearTimeout(this.#queueTimer);
      this.#queueTimer = null;
    }
    if (this.#finished || this.#localReplying) abort(new Error('downstream closed'));
    else this.#abortUpstream = abort;
  }

  /** The upstream accepted the upgrade: its 101 runs through the filters' response phase, then the tunnel (responseHeaders). */
  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    this.#upstreamDone = true;
    // undici is done with the request: the socket is the tunnel's now, out of the pool's count.
    this.#releaseUpstream();
    if (this.#finished || this.#chain.stopped || this.#localReplying || this.#upgrade === null) {
      socket.destroy();
      return;
    }
    this.#upstreamSocket = socket;
    const raw: string[] = [];
    const rh = rawHeaders ?? [];
    for (let i = 0; i < rh.length; i += 2) {
      raw.push(undiciUtil.headerNameToString(rh[i] as Buffer), rh[i + 1].toString('latin1'));
    }
    const flat: string[] = [':status', String(statusCode)];
    collectEndToEnd(raw, flat, true);
    flat.push('upgrade', this.#upgrade.token);
    const s = this.#stream;
    s.responseHeaders = new HeaderMap(flat);
    s.responseCode = statusCode;
    this.#responseEosAtHeaders = true;
    this.#chain.responseHeaders(true);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // An interim response (103 Early Hints...) is not passed on: the final one follows.
    if (statusCode < 200) return true;
    this.#responseStarted = true;
    if (this.#finished || this.#chain.stopped || this.#localReplying) return true;
    // Names through undici's table of known headers: interned lower-case strings, no allocation.
    const raw: string[] = new Array(rawHeaders.length);
    for (let i = 0; i < rawHeaders.length; i += 2) {
      raw[i] = undiciUtil.headerNameToString(rawHeaders[i]);
      raw[i + 1] = rawHeaders[i + 1].toString('latin1');
    }
    const flat: string[] = [':status', String(statusCode)];
    collectEndToEnd(raw, flat, true);
    const s = this.#stream;
    s.info.codeDetails = 'via_upstream';
    const map = new HeaderMap(flat);
    // A proxy with a clock adds the Date an upstream left out (RFC 9110 §6.6.1), before the filters:
    // node's own would come back after a filter removed it (sendDate is off, #sendResponseHeaders).
    if (map.get('date') === undefined) map.add('date', httpDate());
    s.responseHeaders = map;
    s.responseCode = statusCode;
    this.#resumeUpstream = resume;
    const method = this.#req.method;
    const cl = s.responseHeaders.get('content-length');
    this.#responseEosAtHeaders = method === 'HEAD' || statusHasNoBody(statusCode) || cl === '0';
    // Over HTTP/2 trailers may follow a body of known length: its end is the stream's end.
    if (cl !== undefined && s.responseHeaders.get('transfer-encoding') === undefined && !this.#up?.http2) this.#responseRemaining = Number(cl);
    this.#chain.responseHeaders(this.#responseEosAtHeaders);
    return !this.#downstreamBlocked;
  }

  onData(chunk: Buffer): boolean {
    if (this.#finished || this.#localReplying) return true;
    if (this.#responseRemaining >= 0) this.#responseRemaining -= chunk.length;
    this.#responseEosSent = this.#responseRemaining === 0;
    this.#chain.responseData(chunk, this.#responseEosSent);
    return !this.#downstreamBlocked;
  }

  onComplete(trailers?: Buffer[] | string[] | Record<string, string | string[] | undefined> | null): void {
    this.#upstreamDone = true;
    this.#releaseUpstream();
    if (this.#finished || this.#localReplying) return;
    if (this.#responseEosAtHeaders || this.#responseEosSent) return;
    // Trailers end the response instead of an empty end of stream (chain trailers phase).
    const t = trailersFromUpstream(trailers);
    if (t !== null) this.#chain.responseTrailers(t);
    else this.#chain.responseData(EMPTY, true);
  }

  onError(err: Error): void {
    this.#releaseUpstream();
    const sent = this.#sent;
    if (sent !== null && !this.#retried && !this.#responseStarted && !this.#finished && !this.#localReplying && retryable(sent.method, true, err)) {
      this.#retried = true;
      this.#env.logger.debug(
        { reqId: this.#stream.id, err: (err as Error & { code?: string }).code ?? err.message },
        'upstream connection closed under the request; retrying once',
      );
      this.#abortUpstream = null;
      this.#send(sent, true);
      return;
    }
    this.#upstreamDone = true;
    if (this.#finished || this.#chain.stopped || this.#localReplying) return;
    this.#env.stats.upstreamErrors++;
    const res = this.#res;
    if (res.headersSent) {
      this.#stream.info.responseFlags |= ResponseFlag.UpstreamRemoteReset;
      this.#env.logger.warn({ reqId: this.#stream.id, err: err.message }, 'upstream failed mid-response; closing the downstream connection');
      res.destroy(err);
      return;
    }
    const f = upstreamFailure(err as Error & { code?: string });
    const failed = upstreamErrorInfo((err as Error & { code?: string }).code ?? '');
    this.#stream.info.responseFlags |= failed.flag;
    this.#stream.info.codeDetails = failed.details;
    this.#env.logger.warn(
      {
        code: f.code,
        reqId: this.#stream.id,
        upstream: this.#env.upstream.target,
        err: (err as Error & { code?: string }).code ?? err.message,
        detail: err.message,
      },
      f.body.trim(),
    );
    this.#failureReply(f);
  }

  // ---- ChainSink: response direction -------------------------------------------------------------

  responseHeaders(): void {
    const up = this.#upstreamSocket;
    if (up !== null && this.#upgrade !== null) {
      this.#sendResponseHeaders(-1, true);
      const res = this.#res;
      markUpgraded(res);
      res.end(() => tunnel(res, this.#req.socket, this.#upgrade!.head, up, () => this.#finish()));
      return;
    }
    if (this.#responseEosAtHeaders) {
      this.#sendResponseHeaders(-1);
      this.#res.end();
    } else if (this.#gen.responseBodyHooks) this.#awaitFirstResponseData = true;
    else this.#sendResponseHeaders(-1);
  }

  responseData(body: BodyBuffer, endOfStream: boolean): void {
    // A response that ended with its headers (HEAD, 204, 304) has no body to write, even when a
    // filter's local reply carries one.
    if (this.#responseEosAtHeaders) return;
    if (this.#awaitFirstResponseData) {
      this.#awaitFirstResponseData = false;
      this.#sendResponseHeaders(endOfStream ? body.length : -1);
    }
    const res = this.#res;
    const chunks = body.chunks;
    if (endOfStream && this.#declaredLength >= 0 && this.#declaredLength !== this.#sentBytes + body.length) {
      this.#env.logger.error(
        { code: 'OUTRIGGER_BODY_LENGTH_MISMATCH', reqId: this.#stream.id, declared: this.#declaredLength, sent: this.#sentBytes + body.length },
        'a filter changed the response body length after content-length was sent; buffer the body (StopIterationAndBuffer until end of stream) or remove content-length in on_response_headers',
      );
      res.destroy();
      return;
    }
    // The last chunk of the stream goes out with end(): one pass through node's writer, not two.
    const writes = endOfStream && chunks.length > 0 ? chunks.length - 1 : chunks.length;
    for (let i = 0; i < writes; i++) {
      const c = chunks[i];
      this.#sentBytes += c.length;
      if (!res.write(c) && !this.#downstreamBlocked) {
        this.#downstreamBlocked = true;
        res.once('drain', () => {
          this.#downstreamBlocked = false;
          this.#resumeUpstream?.();
        });
      }
    }
    if (endOfStream) {
      if (writes < chunks.length) {
        this.#sentBytes += chunks[writes].length;
        res.end(chunks[writes]);
      } else res.end();
    }
  }

  /**
   * The response's trailers passed the filters: they end it. Over HTTP/1.1 node writes them after the
   * last chunk (a response sent with content-length has no place for them: dropped, as Envoy's
   * HTTP/1.1 codec does); over HTTP/2 they go as the trailing HEADERS frame.
   */
  responseTrailers(): void {
    if (this.#responseEosAtHeaders) return;
    if (this.#awaitFirstResponseData) {
      this.#awaitFirstResponseData = false;
      this.#sendResponseHeaders(-1);
    }
    const t = this.#stream.responseTrailers;
    if (t !== null && t.count > 0) this.#res.addTrailers(this.#req.httpVersionMajor === 2 ? trailersObject(t) : trailerPairs(t));
    this.#res.end();
  }

  /** `exactLength` ≥ 0 when the whole body is known: content-length is set to it. */
  /** `upgraded`: the upstream's 101, sent with Connection: upgrade (filters cannot turn it into another status). */
  #sendResponseHeaders(exactLength: number, upgraded = false): void {
    const map = this.#stream.responseHeaders!;
    const h = map.flat;
    const out: string[] = [];
    let status = this.#stream.responseCode;
    const st = Number(map.get(':status'));
    if (Number.isInteger(st) && st >= 200 && st <= 999) status = st;
    const bodyless = statusHasNoBody(status);
    // Trailers already there (a filter created them before the headers went): chunked, so they fit.
    const trailing = this.#stream.responseTrailers !== null && exactLength < 0;
    for (let i = 0; i < h.length; i += 2) {
      const k = h[i];
      // A filter may change :status (read above); one that is not a final HTTP status is ignored.
      if (k.charCodeAt(0) === 58) continue;
      if (bodyless && (k === 'content-length' || k === 'transfer-encoding') && dropsFramingHeader(status, k)) continue;
      if ((exactLength >= 0 || trailing) && (k === 'content-length' || k === 'transfer-encoding')) continue;
      if (k === 'content-length') this.#declaredLength = Number(h[i + 1]);
      out.push(k, h[i + 1]);
    }
    if (exactLength >= 0 && !this.#responseEosAtHeaders) out.push('content-length', String(exactLength));
    if (upgraded) {
      out.push('connection', 'upgrade');
      status = 101;
    }
    // The map already had its Date (onHeaders, the local reply's): what the filters left goes out.
    this.#res.sendDate = false;
    this.#res.writeHead(status, out);
  }

  // ---- ChainSink: endings ------------------------------------------------------------------------

  localReply(reply: LocalReply): void {
    this.#env.stats.localReplies++;
    this.#stopUpstream('local reply');
    if (this.#res.headersSent) {
      // Too late for a status: the only honest signal left is a connection that ends without the
      // response's end (no last chunk, or fewer bytes than content-length), as a proxy must.
      this.#env.logger.error(
        { code: 'OUTRIGGER_RESPONSE_ABORTED', reqId: this.#stream.id, filter: reply.filter, status: reply.status, details: reply.details },
        `${reply.filter ? `filter "${reply.filter}": ` : ''}local reply ${reply.status} (${reply.details}) after the response started; downstream connection closed without ending the response`,
      );
      this.#stream.info.responseFlags |= ResponseFlag.LocalReset;
      this.#res.destroy();
      return;
    }
    // A buffer-cap reply names the filter that buffered (a fail-closed 503 is logged by fault()).
    if (reply.details === 'request_payload_too_large' || reply.details === 'response_payload_too_large') {
      const isReq = reply.status === 413;
      this.#env.logger.warn(
        {
          code: isReq ? 'OUTRIGGER_REQUEST_BODY_TOO_LARGE' : 'OUTRIGGER_RESPONSE_BODY_TOO_LARGE',
          reqId: this.#stream.id,
          filter: reply.filter,
          status: reply.status,
        },
        `filter "${reply.filter}" buffered a ${isReq ? 'request' : 'response'} body over max_buffered_body; answered ${reply.status}`,
      );
    }
    this.#stream.responseCode = reply.status;
    this.#stream.info.codeDetails = reply.details;
    this.#writeReply(reply.status, reply.body, reply.headers);
  }

  beginLocalReply(endOfStream: boolean): boolean {
    this.#env.stats.localReplies++;
    this.#localReplying = true;
    this.#stopUpstream('local reply');
    if (this.#res.headersSent) {
      this.#env.logger.error({ reqId: this.#stream.id }, 'local reply after the response started; closing the connection');
      this.#stream.info.responseFlags |= ResponseFlag.LocalReset;
      this.#res.destroy();
      return false;
    }
    this.#responseEosAtHeaders = endOfStream || this.#req.method === 'HEAD';
    this.#responseRemaining = -1;
    return true;
  }

  reset(reason: string): void {
    this.#stream.info.responseFlags |= ResponseFlag.LocalReset;
    this.#env.logger.info({ reqId: this.#stream.id }, `stream reset: ${reason}`);
    this.#stopUpstream(reason);
    this.#res.destroy();
  }

  #writeReply(status: number, body: Buffer, headers: string[]): void {
    const out = headers.slice();
    let hasType = false;
    for (let i = 0; i < out.length; i += 2) if (out[i] === 'content-type') hasType = true;
    if (!hasType && body.length) out.push('content-type', LOCAL_REPLY_CONTENT_TYPE);
    out.push('content-length', String(body.length));
    this.#res.writeHead(status, out);
    this.#stream.responseCode = status;
    const head = this.#req.method === 'HEAD';
    this.#sentBytes = head ? 0 : body.length;
    this.#res.end(head ? undefined : body);
  }

  #stopUpstream(reason: string): void {
    if (this.#upstreamSocket !== null && !this.#finished) this.#upstreamSocket.destroy();
    if (this.#dispatched && !this.#upstreamDone) this.#abortUpstream?.(new Error(reason));
    this.#requestBody?.destroy();
  }

  #abort(err: Error): void {
    this.#stopUpstream(err.message);
    if (!this.#res.headersSent) this.#res.destroy();
  }

  /** The downstream response is over, finished or not: end upstream work and the filters' contexts (then the pin: closed()). */
  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    const info = this.#stream.info;
    info.responseBodyBytes = this.#sentBytes;
    info.endTimeMs = Date.now();
    // Cut short with no reason of ours recorded: the client went away.
    if (!this.#res.writableFinished && info.responseFlags === 0) info.responseFlags |= ResponseFlag.DownstreamConnectionTermination;
    if (!this.#upstreamDone) this.#stopUpstream('downstream closed');
    this.#chain.close();
  }
}
