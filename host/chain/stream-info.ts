// What the data path learns about one request as it goes (Envoy's StreamInfo): body sizes, where it
// went upstream, how it ended. The HTTP plumbing fills it; the request, response and upstream
// attributes (host/abi/properties.ts) read it, mostly in proxy_on_log.

/**
 * Envoy's response flag bits (its `response.flags` attribute, the legacy uint64 form that access
 * logs print as UF, UT, ...), those that can happen here.
 */
export const ResponseFlag = {
  /** UT: the upstream sent no response (headers or body) in time. */
  UpstreamRequestTimeout: 0x4,
  /** LR: the stream was reset locally (a filter's proxy_close_stream). */
  LocalReset: 0x8,
  /** UR: the upstream reset the stream mid-response. */
  UpstreamRemoteReset: 0x10,
  /** UF: no connection to the upstream (refused, unreachable, connect timeout). */
  UpstreamConnectionFailure: 0x20,
  /** UC: the upstream connection ended before a complete response. */
  UpstreamConnectionTermination: 0x40,
  /** UO: no upstream connection free in time (upstream_max_connections). */
  UpstreamOverflow: 0x80,
  /** DC: the client went away before the response ended. */
  DownstreamConnectionTermination: 0x4000,
  /** SI: the client's request body stalled (client_body_timeout_ms). */
  StreamIdleTimeout: 0x10000,
} as const;

export class StreamInfo {
  /** Request body bytes received from the client. */
  requestBodyBytes = 0;
  /** Response body bytes written to the client. */
  responseBodyBytes = 0;
  /** Wall-clock ms when the response ended downstream (0 while it has not). */
  endTimeMs = 0;
  /** The upstream target the request was sent to ('' when none was: a local reply before it). */
  upstreamTarget = '';
  /** Bits of ResponseFlag. */
  responseFlags = 0;
  /** Envoy's response code details: via_upstream, or the local reply's details. */
  codeDetails = '';
}
