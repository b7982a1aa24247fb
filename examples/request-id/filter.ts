// request-id: makes sure every request carries an `x-request-id` and echoes it on the response.
// If the request has none, one is generated: the host's `request.id` property when it has one,
// otherwise <time in ns, hex>-<per-instance counter, hex>. Config: none ({}).
export * from "../../sdk/assembly/exports";
import {
  FilterHeadersStatus,
  HttpContext,
  RootContext,
  getCurrentTimeNanoseconds,
  getPropertyString,
  getRequestHeader,
  registerRootContext,
  replaceRequestHeader,
  replaceResponseHeader,
} from "../../sdk/assembly";

const HEADER = "x-request-id";
let counter: u64 = 0;

function generateId(): string {
  const fromHost = getPropertyString("request.id");
  if (fromHost !== null && fromHost.length > 0) return fromHost;
  counter++;
  return getCurrentTimeNanoseconds().toString(16) + "-" + counter.toString(16);
}

class RequestIdRoot extends RootContext {
  createHttpContext(contextId: u32): HttpContext {
    return new RequestId(contextId, this);
  }
}

class RequestId extends HttpContext {
  id: string = "";

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const existing = getRequestHeader(HEADER);
    if (existing !== null && existing.length > 0) {
      this.id = existing;
    } else {
      this.id = generateId();
      replaceRequestHeader(HEADER, this.id);
    }
    return FilterHeadersStatus.Continue;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    if (this.id.length > 0) replaceResponseHeader(HEADER, this.id);
    return FilterHeadersStatus.Continue;
  }
}

registerRootContext("", (contextId: u32): RootContext => new RequestIdRoot(contextId));
