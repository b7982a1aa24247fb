// request-id: makes sure every request carries an `x-request-id` and echoes it on the response.
// If the request has none, one is generated: the host's `request.id` property when it has one,
// otherwise <time in ns, hex>-<per-instance counter, hex>. Config: none ({}).
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

function generateId(): ArrayBuffer {
  const fromHost = getProperty("request.id");
  if (fromHost !== null && fromHost.byteLength > 0) return fromHost;
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
    const existing = getHeaderBytes(MapType.HttpRequestHeaders, HEADER);
    if (existing !== null && existing.byteLength > 0) {
      this.id = existing;
    } else {
      const id = generateId();
      this.id = id;
      replaceHeaderBytes(MapType.HttpRequestHeaders, HEADER, id);
    }
    return FilterHeadersStatus.Continue;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const id = this.id;
    if (id !== null) replaceHeaderBytes(MapType.HttpResponseHeaders, HEADER, id);
    return FilterHeadersStatus.Continue;
  }
}

registerRootContext("", (contextId: u32): RootContext => new RequestIdRoot(contextId));
