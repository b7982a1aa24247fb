// One proxied request as the filters see it: its header maps, the body bytes readable in the current
// body callback, what filters asked of it (stream-actions.ts), and connection facts for properties.
// Neutral between the ABI glue (which reads and edits it) and the HTTP plumbing (which fills it).

import type { BodyBuffer } from './body-buffer.js';
import type { HeaderMap } from './header-map.js';
import { StreamActions, type StreamActor } from './stream-actions.js';
import { StreamInfo } from './stream-info.js';

export type { LocalReply } from './stream-actions.js';

export interface ConnectionInfo {
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
  /** "HTTP/1.1" etc. */
  protocol: string;
  scheme: string;
  /** The downstream connection's serial (the connection.id attribute); absent outside the proxy. */
  connectionId?: number;
}

export class HttpStream {
  readonly id: string;
  /** The serial in `id` (request-id.ts), -1 when made outside an exchange: what the watchdog records. */
  serial = -1;
  readonly startTimeMs: number;
  readonly connection: ConnectionInfo;
  requestHeaders: HeaderMap;
  responseHeaders: HeaderMap | null = null;
  /**
   * Each message's trailers, null while it has none (none yet, or none at all): filters then read an
   * empty map (host/abi trailer-maps.ts). Set by the plumbing when trailers arrive, or by a filter
   * adding to the map in the last body callback of a message without them (Envoy's addDecodedTrailers).
   */
  requestTrailers: HeaderMap | null = null;
  responseTrailers: HeaderMap | null = null;
  /** Directions (bit set of StreamDirection) whose trailer map a filter may create now: set by the chain around an end-of-stream body callback. */
  trailersCreatable = 0;
  /** Status of the response headed downstream (0 until known). */
  responseCode = 0;
  /** Body bytes readable in the current request / response body callback. */
  requestBody: BodyBuffer | null = null;
  responseBody: BodyBuffer | null = null;
  /** What filters asked of this stream, carried out by its chain after the callback (stream-actions.ts). */
  readonly actions = new StreamActions();
  /** Sizes, upstream, flags and end time, for the attributes filters read (stream-info.ts). */
  readonly info = new StreamInfo();
  /** Values filters stored with proxy_set_property, readable back with proxy_get_property. */
  filterState: Map<string, Buffer> | null = null;
  /** Set by the chain while it runs: carries out actions that arrived outside this stream's callbacks. */
  actor: StreamActor | null = null;

  /** Carry out pending actions now. Only ever called once the guest callback that asked has returned. */
  act(): void {
    this.actor?.act();
  }

  constructor(id: string, requestHeaders: HeaderMap, connection: ConnectionInfo) {
    this.id = id;
    this.startTimeMs = Date.now();
    this.requestHeaders = requestHeaders;
    this.connection = connection;
  }
}
