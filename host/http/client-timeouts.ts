// Client timeouts on the proxy listener: how long a client may take to send its request head
// (client_header_timeout_ms, node's headersTimeout, answered 408 by client-error.ts), how long it
// may leave its body idle (client_body_timeout_ms, a timer here re-armed per chunk), and how long an
// idle keep-alive connection stays open (keepalive_timeout_ms). A slow or stalled client then holds
// its socket and upstream connection for a bounded time, never for ever.

import type { IncomingMessage, ServerOptions } from 'node:http';
import { CONNECTION_CHECK_MAX_MS, CONNECTION_CHECK_MIN_MS } from '../limits.js';

export interface ClientTimeouts {
  clientHeaderTimeoutMs: number;
  clientBodyTimeoutMs: number;
  keepaliveTimeoutMs: number;
}

/** node:http server options for these timeouts. */
export function serverTimeoutOptions(t: ClientTimeouts): ServerOptions {
  return {
    headersTimeout: t.clientHeaderTimeoutMs,
    // The whole request has no deadline (uploads may be long); the body's gaps are bounded instead.
    requestTimeout: 0,
    keepAliveTimeout: t.keepaliveTimeoutMs,
    connectionsCheckingInterval: Math.min(CONNECTION_CHECK_MAX_MS, Math.max(CONNECTION_CHECK_MIN_MS, Math.floor(t.clientHeaderTimeoutMs / 10))),
  };
}

/**
 * Calls `onStall` when `ms` pass with no body byte from the client before the body ended. One timer
 * per request body, refreshed (not re-created) per chunk.
 */
export function watchBodyGaps(req: IncomingMessage, ms: number, onStall: () => void): void {
  const timer = setTimeout(onStall, ms);
  req.on('data', () => timer.refresh());
  const stop = () => clearTimeout(timer);
  req.once('end', stop);
  req.once('close', stop);
}
