// A request whose body ends with trailers, sent to an HTTP/1.1 upstream. undici writes a chunked body
// but no trailer section (nor does its HTTP/2 client send trailers), so a request that declares
// trailers (a `Trailer` header on a chunked body, RFC 9110 §6.6.2) goes through node:http instead, on
// a connection of its own, driving the same dispatch handler (the Exchange) as the pool does. Rare
// (gRPC, the usual user of trailers, sends none in requests) so a pooled connection is not worth it.
// Undeclared request trailers still reach the filters; the pool path then cannot forward them.

import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { HeaderMap } from '../chain/header-map.js';
import { trailerPairs } from './trailers.js';

export interface TrailerRequest {
  method: string;
  path: string;
  headers: string[];
  body: Readable;
  timeoutMs: number;
  /** The trailers as they stand once the body has ended (filters may have changed them), or null. */
  trailers(): HeaderMap | null;
}

export function dispatchWithTrailers(target: string, opts: TrailerRequest, handler: Dispatcher.DispatchHandler): void {
  const where = target.startsWith('unix:')
    ? { socketPath: target.slice(5) }
    : (() => {
        const u = new URL(target);
        return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) || (u.protocol === 'https:' ? 443 : 80), https: u.protocol === 'https:' };
      })();
  const https = 'https' in where && where.https;
  const { https: _, ...addr } = where as typeof where & { https?: boolean };
  const req = (https ? httpsRequest : request)({
    ...addr,
    method: opts.method,
    path: opts.path,
    headers: opts.headers,
    agent: false,
    timeout: opts.timeoutMs,
  });
  let failed = false;
  const fail = (err: Error & { code?: string }) => {
    if (failed) return;
    failed = true;
    req.destroy();
    opts.body.destroy();
    handler.onError?.(err);
  };
  handler.onConnect?.((err) => fail((err as Error) ?? new Error('aborted')));
  req.on('timeout', () => fail(Object.assign(new Error('upstream timed out'), { code: 'UND_ERR_HEADERS_TIMEOUT' })));
  req.on('error', fail);
  req.on('response', (res) => {
    const raw: Buffer[] = [];
    for (let i = 0; i < res.rawHeaders.length; i++) raw.push(Buffer.from(i % 2 ? res.rawHeaders[i] : res.rawHeaders[i].toLowerCase(), 'latin1'));
    if (handler.onHeaders?.(res.statusCode ?? 502, raw, () => res.resume(), res.statusMessage ?? '') === false) res.pause();
    res.on('data', (c: Buffer) => {
      if (handler.onData?.(c) === false) res.pause();
    });
    res.on('end', () => {
      if (failed) return;
      const t = res.rawTrailers;
      // undici's own handlers get raw Buffers here (its types say string[]); trailers.ts takes either.
      handler.onComplete?.(t as unknown as string[]);
    });
    res.on('error', fail);
  });
  const body = opts.body;
  body.on('data', (c: Buffer) => {
    if (!req.write(c)) {
      body.pause();
      req.once('drain', () => body.resume());
    }
  });
  body.once('end', () => {
    const t = opts.trailers();
    if (t !== null && t.count > 0) req.addTrailers(trailerPairs(t));
    req.end();
  });
  body.once('error', fail);
}
