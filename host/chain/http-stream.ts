// One proxied request as the filters see it: its header maps, the body bytes readable in the current
// body callback, what filters asked for (a local reply, a resume, a reset), and connection facts for
// properties. Neutral between the ABI glue (which reads and edits it) and the HTTP plumbing (which
// fills it and carries out what it records).

import type { BodyBuffer } from './body-buffer.js';
import type { HeaderMap } from './header-map.js';

export interface LocalReply {
  status: number;
  body: Buffer;
  /** Flat [k, v, ...] extra headers. */
  headers: string[];
  details: string;
  /** Which filter sent it (for logs and the x-outrigger-filter header). */
  filter: string;
}

export interface ConnectionInfo {
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
  /** "HTTP/1.1" etc. */
  protocol: string;
  scheme: string;
}

/** Bits of the direction a filter asked to resume or reset (StreamType 0 and 1). */
export const REQUEST_DIRECTION = 1;
export const RESPONSE_DIRECTION = 2;

export class HttpStream {
  readonly id: string;
  /** The serial in `id` (request-id.ts), -1 when made outside an exchange: what the watchdog records. */
  serial = -1;
  readonly startTimeMs: number;
  readonly connection: ConnectionInfo;
  requestHeaders: HeaderMap;
  responseHeaders: HeaderMap | null = null;
  /** Status of the response headed downstream (0 until known). */
  responseCode = 0;
  /** Body bytes readable in the current request / response body callback. */
  requestBody: BodyBuffer | null = null;
  responseBody: BodyBuffer | null = null;
  localReply: LocalReply | null = null;
  /** Directions a filter asked to resume during its callback (bit set of *_DIRECTION). */
  pendingResume = 0;
  /** Directions a filter asked to reset. */
  pendingClose = 0;
  /** Values filters stored with proxy_set_property, readable back with proxy_get_property. */
  filterState: Map<string, Buffer> | null = null;
  /**
   * Set by the chain: carries out a resume, local reply or reset that a filter asked for from
   * outside this stream's own callbacks (a tick, another stream's callback).
   */
  waker: { wake(): void } | null = null;
  /** A filter whose instance died while this stream was waiting on it (see FilterChain.wake). */
  pendingFault: { filter: unknown; error: Error } | null = null;

  wake(): void {
    this.waker?.wake();
  }

  constructor(id: string, requestHeaders: HeaderMap, connection: ConnectionInfo) {
    this.id = id;
    this.startTimeMs = Date.now();
    this.requestHeaders = requestHeaders;
    this.connection = connection;
  }
}
