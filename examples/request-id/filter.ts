// request-id: makes sure every request carries an `x-request-id` and echoes it on the response.
// An incoming id is kept. The id comes from the host's `request.id` property (the x-request-id
// header, or the host's own id for the request); on a host without that property, from the header,
// else <time in ns, hex>-<per-instance counter, hex>. Config: none ({}).
export * from "../../sdk/assembly/exports";
// The id is only passed along, never inspected, so it stays bytes: no UTF-8 decode and re-encode.
import {
  FilterHeadersStatus,
  HttpContext,
  MapType,
  RootContext,
  getCurrentTimeNanoseconds,
  getHeaderBytes,
  getProperty,
  registerRootContext,
  replaceHeaderBytes,
  toUtf8,
} from "../../sdk/assembly";

const HEADER = "x-request-id";
let counter: u64 = 0;

/**
 * The request's id. `request.id` is its x-request-id (Envoy's definition; Outrigger gives a request
 * without one an id of its own): one host call instead of reading the header first. On a host
 * without that property: the header itself, else an id of our own.
 */
function requestId(): ArrayBuffer {
  const fromHost = getProperty("request.id");
  if (fromHost !== null && fromHost.byteLength > 0) return fromHost;
  const fromHeader = getHeaderBytes(MapType.HttpRequestHeaders, HEADER);
  if (fromHeader !== null && fromHeader.byteLength > 0) return fromHeader;
  counter++;
  return toUtf8(getCurrentTimeNanoseconds().toString(16) + "-" + counter.toString(16));
}

class RequestIdRoot extends RootContext {
  createHttpContext(contextId: u32): HttpContext {
    return new RequestId(contextId, this);
  }
}

class RequestId extends HttpContext {
  id: ArrayBuffer | null = null;

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const id = requestId();
    this.id = id;
    // Sets it when it was missing; rewrites the same value when it was there.
    replaceHeaderBytes(MapType.HttpRequestHeaders, HEADER, id);
    return FilterHeadersStatus.Continue;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const id = this.id;
    if (id !== null) replaceHeaderBytes(MapType.HttpResponseHeaders, HEADER, id);
    return FilterHeadersStatus.Continue;
  }
}

registerRootContext("", (contextId: u32): RootContext => new RequestIdRoot(contextId));
