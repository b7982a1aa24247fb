// The proxy's gRPC transport (GrpcCallDispatcher, host/abi/grpc-call-dispatcher.ts): each filter
// call is one HTTP/2 stream to its cluster, over node:http2, one session per cluster shared by all
// calls (HTTP/2 multiplexes; gRPC clients keep one connection per target too). A session that gets
// GOAWAY, errors or closes is dropped and the next call connects afresh; calls still on it finish
// or fail with Unavailable. Statuses follow gRPC over HTTP/2 as Envoy's async client reads it:
// grpc-status/grpc-message from the trailers (or a trailers-only response), an HTTP status without
// one mapped by httpToGrpcStatus, no connection -> Unavailable (14), the call's deadline ->
// DeadlineExceeded (4), a reset after the response began -> Internal (13), no status at all ->
// Unknown (2).
//
// Cluster URLs: h2c://host:port and http://host:port (HTTP/2 with prior knowledge: gRPC has no
// HTTP/1.1 form), https://host:port (TLS, ALPN h2), unix:/path (h2c on a unix socket).

import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import net from 'node:net';
import type { Logger } from 'pino';
import { GrpcStatus } from '../../abi/enums.js';
import type { GrpcCallDispatcher, GrpcCallRequest, GrpcCallStream, GrpcStreamEvents } from '../abi/grpc-call-dispatcher.js';
import { DEFAULT_GRPC_CONNECT_TIMEOUT_MS, MAX_GRPC_MESSAGE_BYTES } from '../limits.js';
import { decodeGrpcMessage, frameMessage, httpToGrpcStatus, MessageDecoder } from './grpc-framing.js';

export interface GrpcClusterConfig {
  url: string;
  /** The cluster's timeout_ms: the longest a unary call may take (a filter's 0 means this); 0: none. */
  timeoutMs?: number;
}

/**
 * Where clusters come from: a fixed map (tests, the harness), or a lookup into the proxy's cluster
 * registry (`clusters:`), read on every call so a reload's change applies to the next call.
 */
export type GrpcClusterSource = Record<string, string | GrpcClusterConfig> | ((name: string) => string | GrpcClusterConfig | undefined);

export interface GrpcClientOptions {
  logger?: Logger;
  connectTimeoutMs?: number;
  maxMessageBytes?: number;
}

/** Headers HTTP/2 forbids (RFC 9113 §8.2.2) or the transport sets itself: never taken from metadata. */
const RESERVED = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'te', 'grpc-timeout']);

interface Target {
  name: string;
  /** What http2.connect dials. */
  origin: string;
  scheme: 'http' | 'https';
  authority: string;
  socketPath: string | null;
  timeoutMs: number;
}

/** The parsed cluster URL, or a reason it cannot carry gRPC. */
export function grpcTarget(name: string, config: string | GrpcClusterConfig): Target | string {
  const c = typeof config === 'string' ? { url: config } : config;
  const timeoutMs = c.timeoutMs ?? 0;
  if (c.url.startsWith('unix:')) {
    const socketPath = c.url.slice(5);
    if (!socketPath) return `cluster ${name}: unix: needs a path (unix:/path/to/sock)`;
    return { name, origin: 'http://localhost', scheme: 'http', authority: 'localhost', socketPath, timeoutMs };
  }
  let u: URL;
  try {
    u = new URL(c.url);
  } catch {
    return `cluster ${name}: ${c.url} is not a URL (h2c://host:port, https://host:port or unix:/path)`;
  }
  if (u.protocol !== 'h2c:' && u.protocol !== 'http:' && u.protocol !== 'https:')
    return `cluster ${name}: gRPC needs h2c://, http:// (HTTP/2 prior knowledge), https:// or unix:, not ${u.protocol}//`;
  const tls = u.protocol === 'https:';
  const port = u.port || (tls ? '443' : '80');
  return { name, origin: `${tls ? 'https' : 'http'}://${u.hostname}:${port}`, scheme: tls ? 'https' : 'http', authority: u.host, socketPath: null, timeoutMs };
}

/** One cluster's HTTP/2 session, made on first use and again after it ends. */
class ClusterSession {
  readonly target: Target;
  readonly #opts: Required<Omit<GrpcClientOptions, 'logger'>> & { logger?: Logger };
  #session: ClientHttp2Session | null = null;
  #active = 0;
  /** Why the last session failed (for the status message of the calls it takes down). */
  lastError = '';

  constructor(target: Target, opts: Required<Omit<GrpcClientOptions, 'logger'>> & { logger?: Logger }) {
    this.target = target;
    this.#opts = opts;
  }

  /** The live session, connecting if there is none. */
  session(): ClientHttp2Session {
    const cur = this.#session;
    if (cur !== null && !cur.closed && !cur.destroyed) return cur;
    const t = this.target;
    const s = http2.connect(t.origin, {
      ...(t.socketPath !== null ? { createConnection: () => net.connect(t.socketPath!) } : {}),
      // gRPC servers may send big messages; the default 64 KiB window would cost a round trip per window.
      settings: { initialWindowSize: 1024 * 1024 },
    });
    this.#session = s;
    const drop = () => {
      if (this.#session === s) this.#session = null;
    };
    const connectTimer = setTimeout(() => {
      s.destroy(new Error(`no HTTP/2 connection within ${this.#opts.connectTimeoutMs} ms`));
    }, this.#opts.connectTimeoutMs);
    connectTimer.unref();
    s.once('connect', () => {
      clearTimeout(connectTimer);
      // ALPN chose something else than h2: the server does not speak gRPC's HTTP/2.
      const alpn = (s.socket as { alpnProtocol?: string | false } | undefined)?.alpnProtocol;
      if (t.scheme === 'https' && alpn !== undefined && alpn !== 'h2') s.destroy(new Error(`TLS ALPN negotiated ${alpn || 'nothing'}, not h2`));
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      this.lastError = err.code ? `${err.code}: ${err.message}` : err.message;
      this.#opts.logger?.warn(
        { code: 'OUTRIGGER_GRPC_TRANSPORT', cluster: t.name, error: this.lastError },
        `gRPC cluster ${t.name} (${t.socketPath ?? t.origin}): ${this.lastError}; its calls fail with Unavailable, the next one reconnects`,
      );
      drop();
    });
    s.on('goaway', drop);
    s.on('close', () => {
      clearTimeout(connectTimer);
      drop();
    });
    // Idle sessions must not keep the process alive; calls in flight do (acquire/release).
    s.unref();
    return s;
  }

  acquire(): void {
    if (this.#active++ === 0) this.#session?.ref();
  }

  release(s: ClientHttp2Session): void {
    if (--this.#active === 0 && !s.destroyed) s.unref();
  }

  close(): void {
    this.#session?.destroy();
    this.#session = null;
  }

  /** The cluster changed (reload): calls on the old session finish, then it closes; new ones go elsewhere. */
  retire(): void {
    this.#session?.close();
    this.#session = null;
  }
}

function flatten(h: IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(h)) {
    if (k[0] === ':' || v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) out.push(k, x);
    else out.push(k, String(v));
  }
  return out;
}

function headerOf(h: IncomingHttpHeaders, k: string): string | undefined {
  const v = h[k];
  return Array.isArray(v) ? v[0] : v;
}

export class Http2GrpcClusters implements GrpcCallDispatcher {
  readonly #resolve: (name: string) => string | GrpcClusterConfig | undefined;
  readonly #sessions = new Map<string, ClusterSession>();
  readonly #opts: Required<Omit<GrpcClientOptions, 'logger'>> & { logger?: Logger };

  /** Throws on a cluster URL in a fixed map that cannot carry gRPC. */
  constructor(clusters: GrpcClusterSource, options: GrpcClientOptions = {}) {
    this.#opts = {
      logger: options.logger,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_GRPC_CONNECT_TIMEOUT_MS,
      maxMessageBytes: options.maxMessageBytes ?? MAX_GRPC_MESSAGE_BYTES,
    };
    if (typeof clusters === 'function') this.#resolve = clusters;
    else {
      const fixed = new Map(Object.entries(clusters));
      for (const [name, c] of fixed) {
        const t = grpcTarget(name, c);
        if (typeof t === 'string') throw new Error(t);
      }
      this.#resolve = (name) => fixed.get(name);
    }
  }

  /** The cluster's target now, or why it cannot carry gRPC (logged once per reason), or undefined. */
  #target(name: string): Target | undefined {
    const c = this.#resolve(name);
    if (c === undefined) return undefined;
    const t = grpcTarget(name, c);
    if (typeof t !== 'string') return t;
    if (!this.#refused.has(t)) {
      this.#refused.add(t);
      this.#opts.logger?.warn({ code: 'OUTRIGGER_GRPC_CLUSTER', cluster: name }, t);
    }
    return undefined;
  }

  readonly #refused = new Set<string>();

  hasCluster(name: string): boolean {
    return this.#target(name) !== undefined;
  }

  /** Closes every session (shutdown; calls still running fail with Unavailable). */
  close(): void {
    for (const s of this.#sessions.values()) s.close();
    this.#sessions.clear();
  }

  start(req: GrpcCallRequest, events: GrpcStreamEvents): GrpcCallStream {
    const target = this.#target(req.cluster);
    if (target === undefined) throw new Error(`unknown gRPC cluster ${req.cluster}`);
    let cs = this.#sessions.get(req.cluster);
    if (cs !== undefined && (cs.target.origin !== target.origin || cs.target.socketPath !== target.socketPath || cs.target.timeoutMs !== target.timeoutMs)) {
      cs.retire();
      cs = undefined;
    }
    if (cs === undefined) {
      cs = new ClusterSession(target, this.#opts);
      this.#sessions.set(req.cluster, cs);
    }
    return new Call(cs, target, req, events, this.#opts.maxMessageBytes);
  }
}

/** One call: an HTTP/2 stream and what it reported so far. */
class Call implements GrpcCallStream {
  readonly #events: GrpcStreamEvents;
  readonly #cs: ClusterSession;
  readonly #session: ClientHttp2Session;
  readonly #stream: ClientHttp2Stream;
  readonly #decoder: MessageDecoder;
  #timer: NodeJS.Timeout | null = null;
  #done = false;
  #localEnded = false;
  #responded = false;
  #status: { code: number; message: string } | null = null;
  #error = '';

  constructor(cs: ClusterSession, target: Target, req: GrpcCallRequest, events: GrpcStreamEvents, maxMessageBytes: number) {
    this.#events = events;
    this.#cs = cs;
    this.#decoder = new MessageDecoder(maxMessageBytes);
    // The cluster's timeout_ms bounds a unary call (and stands in for a filter's 0); a stream is
    // meant to live long (a watch, a feed): only a deadline of its own ends it.
    const timeoutMs = req.unary && target.timeoutMs > 0 ? (req.timeoutMs > 0 ? Math.min(req.timeoutMs, target.timeoutMs) : target.timeoutMs) : req.timeoutMs;
    const headers: OutgoingHttpHeaders = {
      ':method': 'POST',
      ':scheme': target.scheme,
      ':path': `/${req.service}/${req.method}`,
      ':authority': req.authority ?? target.authority,
      'content-type': 'application/grpc',
      te: 'trailers',
    };
    if (timeoutMs > 0) headers['grpc-timeout'] = `${timeoutMs}m`;
    const md = req.metadata;
    for (let i = 0; i < md.length; i += 2) {
      const k = md[i];
      if (k[0] === ':' || RESERVED.has(k)) continue;
      if (k === 'content-type') {
        // A subtype (application/grpc+proto) is the filter's to choose; anything else is not gRPC.
        if (md[i + 1].startsWith('application/grpc')) headers[k] = md[i + 1];
        continue;
      }
      const prev = headers[k];
      headers[k] = prev === undefined ? md[i + 1] : Array.isArray(prev) ? [...prev, md[i + 1]] : [String(prev), md[i + 1]];
    }
    this.#session = cs.session();
    cs.acquire();
    this.#stream = this.#session.request(headers, { endStream: false });
    const s = this.#stream;
    s.on('response', (h) => {
      this.#responded = true;
      if (this.#done) return;
      if (h['grpc-status'] !== undefined) {
        // Trailers-only: the status is in the headers, no messages follow.
        this.#trailers(h);
        return;
      }
      const status = Number(h[':status']);
      if (status !== 200) {
        this.#finish(httpToGrpcStatus(status), `upstream answered HTTP ${status} without grpc-status`);
        s.close(http2.constants.NGHTTP2_CANCEL);
        return;
      }
      events.initialMetadata(flatten(h));
    });
    s.on('data', (chunk: Buffer) => {
      if (this.#done) return;
      const out = this.#decoder.push(chunk);
      if (!Array.isArray(out)) {
        this.#finish(out.status, out.message);
        s.close(http2.constants.NGHTTP2_CANCEL);
        return;
      }
      for (const m of out) {
        if (this.#done) return;
        events.message(m);
      }
    });
    s.on('trailers', (h) => {
      if (!this.#done) this.#trailers(h);
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      this.#error = err.code ? `${err.code}: ${err.message}` : err.message;
    });
    s.on('close', () => {
      this.#clearTimer();
      cs.release(this.#session);
      if (this.#done) return;
      if (this.#status !== null) this.#finish(this.#status.code, this.#status.message);
      else if (!this.#responded) {
        const why = this.#cs.lastError || this.#error || `stream closed (HTTP/2 code ${s.rstCode})`;
        this.#finish(GrpcStatus.Unavailable, `upstream connect error or disconnect/reset before headers: ${why}`);
      } else if (s.rstCode !== undefined && s.rstCode !== http2.constants.NGHTTP2_NO_ERROR)
        this.#finish(GrpcStatus.Internal, `stream reset by the upstream (HTTP/2 code ${s.rstCode})`);
      else this.#finish(GrpcStatus.Unknown, 'the stream ended without grpc-status');
    });
    if (timeoutMs > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        if (this.#done) return;
        this.#finish(GrpcStatus.DeadlineExceeded, `deadline exceeded after ${timeoutMs} ms`);
        s.close(http2.constants.NGHTTP2_CANCEL);
      }, timeoutMs);
    }
  }

  #trailers(h: IncomingHttpHeaders): void {
    const code = Number(headerOf(h, 'grpc-status'));
    const status = Number.isInteger(code) && code >= 0 && code <= 16 ? code : GrpcStatus.Unknown;
    this.#status = { code: status, message: decodeGrpcMessage(headerOf(h, 'grpc-message')) };
    this.#events.trailingMetadata(flatten(h));
    // Close now rather than on the stream's 'close': the status is known.
    if (!this.#done) this.#finish(this.#status.code, this.#status.message);
  }

  #finish(code: number, message: string): void {
    this.#done = true;
    this.#clearTimer();
    this.#events.close(code, message);
  }

  #clearTimer(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  send(message: Buffer, endStream: boolean): void {
    if (this.#localEnded || this.#done) return;
    this.#stream.write(frameMessage(message));
    if (endStream) this.close();
  }

  close(): void {
    if (this.#localEnded) return;
    this.#localEnded = true;
    if (!this.#stream.destroyed) this.#stream.end();
  }

  cancel(): void {
    this.#done = true;
    this.#localEnded = true;
    this.#clearTimer();
    if (!this.#stream.destroyed) this.#stream.close(http2.constants.NGHTTP2_CANCEL);
  }
}
