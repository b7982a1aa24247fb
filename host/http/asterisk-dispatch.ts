// `OPTIONS *` (RFC 9112 §3.2.4) forwarded as is. undici refuses a path that does not start with '/',
// so this one request form goes through node:http on a connection of its own, driving the same
// dispatch handler (the Exchange) as the pool does. Rare enough that a pooled connection is not worth it.

import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';

export function dispatchAsterisk(
  target: string,
  opts: { method: string; headers: string[]; body: Buffer | Readable | null; timeoutMs: number },
  handler: Dispatcher.DispatchHandler,
): void {
  const where = target.startsWith('unix:')
    ? { socketPath: target.slice(5) }
    : (() => {
        const u = new URL(target);
        return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) || (u.protocol === 'https:' ? 443 : 80), https: u.protocol === 'https:' };
      })();
  const https = 'https' in where && where.https;
  const req = (https ? httpsRequest : request)({
    ...where,
    method: opts.method,
    path: '*',
    headers: opts.headers,
    agent: false,
    timeout: opts.timeoutMs,
  });
  let failed = false;
  const fail = (err: Error & { code?: string }) => {
    if (failed) return;
    failed = true;
    req.destroy();
    handler.onError?.(err);
  };
  handler.onConnect?.((err) => fail((err as Error) ?? new Error('aborted')));
  req.on('timeout', () => fail(Object.assign(new Error('upstream timed out'), { code: 'ETIMEDOUT' })));
  req.on('error', fail);
  req.on('response', (res) => {
    const raw: Buffer[] = [];
    for (let i = 0; i < res.rawHeaders.length; i++) raw.push(Buffer.from(i % 2 ? res.rawHeaders[i] : res.rawHeaders[i].toLowerCase(), 'latin1'));
    if (handler.onHeaders?.(res.statusCode ?? 502, raw, () => res.resume(), res.statusMessage ?? '') === false) res.pause();
    res.on('data', (c: Buffer) => {
      if (handler.onData?.(c) === false) res.pause();
    });
    res.on('end', () => {
      if (!failed) handler.onComplete?.(null);
    });
    res.on('error', fail);
  });
  const body = opts.body;
  if (body === null) req.end();
  else if (Buffer.isBuffer(body)) req.end(body);
  else body.pipe(req);
}
