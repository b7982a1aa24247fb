// A request whose body ends with trailers, sent to an HTTP/1.1 upstream. undici writes a chunked body
// but no trailer section (nor does its HTTP/2 client send trailers), so a request that declares
// trailers (a `Trailer` header on a chunked body, RFC 9110 §6.6.2) goes through node:http instead
// (node-http-dispatch.ts). Rare: gRPC, the usual user of trailers, sends none in requests.
// Undeclared request trailers still reach the filters; the pool path then cannot forward them.

import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { HeaderMap } from '../chain/header-map.js';
import { dispatchOverNodeHttp } from './node-http-dispatch.js';
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
  const body = opts.body;
  dispatchOverNodeHttp(
    target,
    {
      method: opts.method,
      path: opts.path,
      headers: opts.headers,
      timeoutMs: opts.timeoutMs,
      timeoutCode: 'UND_ERR_HEADERS_TIMEOUT',
      forwardTrailers: true,
    },
    handler,
    (req, fail) => {
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
    },
    () => body.destroy(),
  );
}
