// HTTP/2 with prior knowledge (h2c, RFC 9113 §3.3) beside HTTP/1.1 on the proxy's one port. Each
// accepted connection's first bytes are compared with the HTTP/2 client preface
// ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"): a match hands the socket to a node:http2 server, anything
// else to node:http as before. Only a client whose first bytes are a prefix of the preface ("P",
// "PR", ...) waits for more; every HTTP/1.1 request line differs from it by its fourth byte at the
// latest, so HTTP/1.1 clients see no change (their bytes are put back and node:http parses them
// as if it had read them itself). Upgrade: h2c from HTTP/1.1 stays declined (upgrade.ts).
//
// h2 streams become requests with the same shape as node:http's (node's compatibility API), so
// they take the same path: request-target checks, the filter chain (pseudo-headers :method :path
// :authority :scheme as Envoy gives them), the upstream. Limits (host/limits.ts): the preface and
// the first bytes must come within client_header_timeout_ms (else 408 as over HTTP/1.1),
// an idle session is closed (GOAWAY) after keepalive_timeout_ms, at most H2_MAX_CONCURRENT_STREAMS
// streams per session and H2_MAX_HEADER_LIST_BYTES of headers per stream; the body gap timeout
// (client_body_timeout_ms) applies per stream as over HTTP/1.1.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer, Http2ServerResponse, type Http2Server, type Http2ServerRequest, type ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { H2_MAX_CONCURRENT_STREAMS, H2_MAX_HEADER_LIST_BYTES } from '../limits.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Headers HTTP/2 forbids in a message (RFC 9113 §8.2.2); node throws on them, a filter may have added one. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

function h2Headers(headers: unknown): unknown {
  if (Array.isArray(headers)) {
    const out: string[] = [];
    for (let i = 0; i < headers.length; i += 2) {
      const k = String(headers[i]).toLowerCase();
      if (!CONNECTION_SPECIFIC.has(k)) out.push(k, headers[i + 1]);
    }
    return out;
  }
  if (headers !== null && typeof headers === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(headers)) if (!CONNECTION_SPECIFIC.has(k.toLowerCase())) out[k.toLowerCase()] = v;
    return out;
  }
  return headers;
}

/** node's compatibility response, without the HTTP/1.1 connection headers an exchange may write. */
class H2Response extends Http2ServerResponse {
  // biome-ignore lint/suspicious/noExplicitAny: node's overloads (status, [message], headers) passed through
  override writeHead(statusCode: number, a?: any, b?: any): this {
    if (b === undefined && typeof a === 'object') return super.writeHead(statusCode, h2Headers(a) as never);
    return super.writeHead(statusCode, a, h2Headers(b) as never);
  }
}

export interface H2ListenerOptions {
  logger: Logger;
  /** client_header_timeout_ms and keepalive_timeout_ms as they stand (reloadable). */
  timeouts: () => { headerMs: number; keepaliveMs: number };
  /** Handles one stream as a request, like node:http's 'request' event (`h2` set). */
  onRequest: (req: IncomingMessage, res: ServerResponse) => void;
}

export interface H2Listener {
  readonly server: Http2Server;
  /** Sessions open now (for shutdown). */
  readonly sessions: Set<ServerHttp2Session>;
  /** Graceful: GOAWAY to every session; streams in flight finish. */
  closeIdle(): void;
  /** Every session destroyed. */
  destroyAll(): void;
}

/**
 * Puts the preface check in front of `http`'s own connection handling (its listener is moved
 * behind the check, so node:http's connection tracking, timeouts and close() work as before).
 */
export function acceptHttp2(http: Server, opts: H2ListenerOptions): H2Listener {
  const h2 = createServer(
    {
      Http2ServerResponse: H2Response as typeof Http2ServerResponse,
      settings: { maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS, maxHeaderListSize: H2_MAX_HEADER_LIST_BYTES, enablePush: false },
      maxHeaderListPairs: 1024,
    },
    (req: Http2ServerRequest, res: Http2ServerResponse) => opts.onRequest(req as unknown as IncomingMessage, res as unknown as ServerResponse),
  );
  const sessions = new Set<ServerHttp2Session>();
  h2.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    // Idle (no frame either way) for keepalive_timeout_ms: GOAWAY, as an idle HTTP/1.1 keep-alive
    // connection is closed. A stream in flight is left to its own timeouts.
    session.setTimeout(opts.timeouts().keepaliveMs, () => session.close());
    session.on('error', (err) => opts.logger.debug({ err: err.message }, 'http2 session error'));
  });
  h2.on('sessionError', (err) => opts.logger.debug({ err: err.message }, 'http2 session error'));

  const httpListeners = http.listeners('connection') as ((s: Socket) => void)[];
  http.removeAllListeners('connection');
  const toHttp1 = (socket: Socket) => {
    for (const l of httpListeners) l.call(http, socket);
  };
  http.on('connection', (socket: Socket) => {
    let seen: Buffer | null = null;
    // Nothing (or only part of the preface) within client_header_timeout_ms: the 408 node:http gives a
    // head that does not come, through the same 'clientError' path.
    const timer = setTimeout(() => {
      socket.off('data', onData);
      http.emit('clientError', Object.assign(new Error('request head timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket);
    }, opts.timeouts().headerMs);
    const onData = (chunk: Buffer) => {
      seen = seen === null ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const prefix = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (prefix && n < PREFACE.length) return; // a prefix of the preface so far: wait for more
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      if (prefix) {
        // node:http2 reads what the stream has buffered before it takes the socket's handle over.
        socket.pause();
        socket.unshift(seen);
        h2.emit('connection', socket);
        process.nextTick(() => socket.resume());
      } else {
        // node:http's parser takes the handle over; the bytes read here go to it as a 'data' event,
        // as its own listener gets them (put back into the stream instead, they waited ~30 ms).
        toHttp1(socket);
        socket.emit('data', seen);
      }
    };
    const onError = () => {
      clearTimeout(timer);
      socket.destroy();
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.once('close', () => clearTimeout(timer));
  });

  return {
    server: h2,
    sessions,
    closeIdle() {
      for (const s of sessions) s.close();
    },
    destroyAll() {
      for (const s of sessions) s.destroy();
    },
  };
}

/**
 * The Host view of an h2 request for the request-target checks: :authority as its one Host. A Host
 * header that names another authority makes the request malformed (RFC 9113 §8.3.1): both are kept,
 * and the double Host is refused as over HTTP/1.1.
 */
export function h2HostHeaders(rawHeaders: readonly string[]): string[] {
  let authority: string | undefined;
  const hosts: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const k = rawHeaders[i];
    if (k === ':authority') authority = rawHeaders[i + 1];
    else if (k === 'host') hosts.push(rawHeaders[i + 1]);
  }
  if (authority === undefined) return hosts.flatMap((h) => ['host', h]);
  const out = ['host', authority];
  for (const h of hosts) if (h !== authority) out.push('host', h);
  return out;
}

/** Does this h2 request have a body? HTTP/2 says so with END_STREAM on its HEADERS, not with framing headers. */
export function h2RequestHasBody(req: IncomingMessage): boolean {
  return !(req as unknown as Http2ServerRequest).stream.endAfterHeaders;
}
