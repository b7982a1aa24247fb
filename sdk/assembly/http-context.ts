// The context of one HTTP stream (one request/response exchange). Subclass it and override the
// callbacks you need; every default passes the stream through unchanged.
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus } from "../../abi/enums";
import { Context } from "./context";
import { RootContext } from "./root-context";

export class HttpContext extends Context {
  /** The root context that created this stream context. */
  root: RootContext;

  constructor(contextId: u32, root: RootContext) {
    super(contextId, root.contextId);
    this.root = root;
  }

  /** Request headers arrived. `endOfStream` is true when no body follows (e.g. GET). */
  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    return FilterHeadersStatus.Continue;
  }

  /**
   * A request body chunk. `bodySize` is the total readable size: after StopIterationAndBuffer it is
   * everything buffered so far, readable with getRequestBody(0, bodySize).
   */
  onRequestBody(bodySize: u32, endOfStream: bool): FilterDataStatus {
    return FilterDataStatus.Continue;
  }

  /** Request trailers arrived. */
  onRequestTrailers(numTrailers: u32): FilterTrailersStatus {
    return FilterTrailersStatus.Continue;
  }

  /** Response headers arrived. */
  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    return FilterHeadersStatus.Continue;
  }

  /** A response body chunk; same `bodySize` rule as onRequestBody. */
  onResponseBody(bodySize: u32, endOfStream: bool): FilterDataStatus {
    return FilterDataStatus.Continue;
  }

  /** Response trailers arrived. */
  onResponseTrailers(numTrailers: u32): FilterTrailersStatus {
    return FilterTrailersStatus.Continue;
  }

  /** The stream is complete (access-log time): headers are readable, not writable. */
  onLog(): void {}
}
