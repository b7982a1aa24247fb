// add-header: adds one configured header to every request (on its way upstream) and to every
// response (so `curl -i` shows it).
// Config: {"header":"x-hello","value":"world"}
export * from "../../sdk/assembly/exports";
import {
  FilterHeadersStatus,
  HttpContext,
  RootContext,
  addRequestHeader,
  addResponseHeader,
  log,
  parseJson,
  registerRootContext,
} from "../../sdk/assembly";

class AddHeaderRoot extends RootContext {
  header: string = "";
  value: string = "";

  onConfigure(configSize: u32): bool {
    const config = parseJson(this.getPluginConfig());
    if (config === null || !config.isObject) {
      log.error("add-header: the configuration must be a JSON object like {\"header\":\"x-hello\",\"value\":\"world\"}");
      return false;
    }
    const header = config.getString("header");
    const value = config.getString("value");
    if (header === null || header.length == 0 || value === null) {
      log.error("add-header: \"header\" (non-empty string) and \"value\" (string) are required");
      return false;
    }
    this.header = header.toLowerCase();
    this.value = value;
    log.info("add-header: adding " + this.header + ": " + this.value);
    return true;
  }

  createHttpContext(contextId: u32): HttpContext {
    return new AddHeader(contextId, this);
  }
}

class AddHeader extends HttpContext {
  constructor(contextId: u32, public config: AddHeaderRoot) {
    super(contextId, config);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    addRequestHeader(this.config.header, this.config.value);
    return FilterHeadersStatus.Continue;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    addResponseHeader(this.config.header, this.config.value);
    return FilterHeadersStatus.Continue;
  }
}

registerRootContext("", (contextId: u32): RootContext => new AddHeaderRoot(contextId));
