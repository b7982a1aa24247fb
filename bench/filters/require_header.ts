// Benchmark filter (SDK): answers 400 when a request lacks the configured header, and otherwise
// lets it through untouched: one header read per request, no header added or removed. Three of these
// are the "filters that pull single headers" workload of `node bench/run.mjs --only ...,read-3`.
// Config: {"header":"x-api-key"}
export * from "../../sdk/assembly/exports";
import {
  FilterHeadersStatus, HttpContext, RootContext, getRequestHeader, log, parseJson, registerRootContext, sendLocalResponse,
} from "../../sdk/assembly";

class RequireHeaderRoot extends RootContext {
  header: string = "";

  onConfigure(configSize: u32): bool {
    const config = parseJson(this.getPluginConfig());
    const header = config !== null && config.isObject ? config.getString("header") : null;
    if (header === null || header.length == 0) {
      log.error("require-header: the configuration must be a JSON object like {\"header\":\"x-api-key\"}");
      return false;
    }
    this.header = header.toLowerCase();
    return true;
  }

  createHttpContext(contextId: u32): HttpContext {
    return new RequireHeader(contextId, this);
  }
}

class RequireHeader extends HttpContext {
  constructor(contextId: u32, public config: RequireHeaderRoot) {
    super(contextId, config);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const value = getRequestHeader(this.config.header);
    if (value !== null && value.length > 0) return FilterHeadersStatus.Continue;
    sendLocalResponse(400, "missing " + this.config.header + "\n", [], "required_header_missing");
    return FilterHeadersStatus.StopIteration;
  }
}

registerRootContext("", (contextId: u32): RootContext => new RequireHeaderRoot(contextId));
