// `OPTIONS *` (RFC 9112 §3.2.4) forwarded as is. undici refuses a path that does not start with '/',
// so this one request form goes through node:http (node-http-dispatch.ts).

import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { dispatchOverNodeHttp } from './node-http-dispatch.js';

export function dispatchAsterisk(
  target: string,
  opts: { method: string; headers: string[]; body: Buffer | Readable | null; timeoutMs: number },
  handler: Dispatcher.DispatchHandler,
): void {
  const { body } = opts;
  dispatchOverNodeHttp(
    target,
    { method: opts.method, path: '*', headers: opts.headers, timeoutMs: opts.timeoutMs, timeoutCode: 'ETIMEDOUT', forwardTrailers: false },
    handler,
    (req) => {
      if (body === null) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else body.pipe(req);
    },
  );
}
