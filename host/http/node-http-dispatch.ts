// One request to the upstream over node:http, on a connection of its own, driving the same undici
// dispatch handler (the Exchange) as the pool does. For the request forms undici cannot send:
// `OPTIONS *` (asterisk-dispatch.ts) and a request body ending in trailers (trailer-dispatch.ts).
// Both are rare, so a pooled connection is not worth it.

import { type ClientRequest, request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Dispatcher } from 'undici';

export interface NodeHttpRequest {
  method: string;
  path: string;
  headers: string[];
  timeoutMs: number;
  /** The error code a timeout is reported with (the handler maps codes to responses). */
  timeoutCode: string;
  /** Hand the response's trailers to onComplete (else null). */
  forwardTrailers: boolean;
}

type Fail = (err: Error & { code?: string }) => void;

/**
 * Sends the request to `target` (`http://`, `https://` or `unix:/path`); `writeBody` writes and ends
 * it, and may report a failure of its source through `fail`; `onFail` releases what it holds.
 */
export function dispatchOverNodeHttp(
  target: string,
  opts: NodeHttpRequest,
  handler: Dispatcher.DispatchHandler,
  writeBody: (req: ClientRequest, fail: Fail) => void,
  onFail: () => void = () => {},
): void {
  let addr: { socketPath: string } | { host: string; port: number };
  let https = false;
  if (target.startsWith('unix:')) addr = { socketPath: target.slice(5) };
  else {
    const u = new URL(target);
    https = u.protocol === 'https:';
    addr = { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) || (https ? 443 : 80) };
  }
  const req = (https ? httpsRequest : request)({
    ...addr,
    method: opts.method,
    path: opts.path,
    headers: opts.headers,
    agent: false,
    timeout: opts.timeoutMs,
  });
  let failed = false;
  const fail: Fail = (err) => {
    if (failed) return;
    failed = true;
    req.destroy();
    onFail();
    handler.onError?.(err);
  };
  handler.onConnect?.((err) => fail((err as Error) ?? new Error('aborted')));
  req.on('timeout', () => fail(Object.assign(new Error('upstream timed out'), { code: opts.timeoutCode })));
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
      // undici's own handlers get raw Buffers here (its types say string[]); trailers.ts takes either.
      handler.onComplete?.(opts.forwardTrailers ? (res.rawTrailers as unknown as string[]) : null);
    });
    res.on('error', fail);
  });
  writeBody(req, fail);
}
