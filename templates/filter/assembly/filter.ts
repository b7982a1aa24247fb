// {{name}}: adds one header to every response.
// Plugin config (the `config:` of this filter in outrigger.yaml), both keys optional:
//   {"header": "x-hello", "value": "world"}
export * from "outrigger/sdk/exports"; // the module's ABI exports: required, exactly once
import {
  FilterHeadersStatus,
  HttpContext,
  RootContext,
  addResponseHeader,
  log,
  parseJson,
  registerRootContext,
} from "outrigger/sdk";

class Root extends RootContext {
  header: string = "x-hello";
  value: string = "world";

  // Runs when the proxy loads the filter and on every config change; false rejects the config.
  onConfigure(configSize: u32): bool {
    const text = this.getPluginConfig();
    if (text.length == 0) return true; // no config: the defaults
    const config = parseJson(text);
    if (config === null || !config.isObject) {
      log.error("{{name}}: the config must be a JSON object like {\"header\":\"x-hello\",\"value\":\"world\"}");
      return false;
    }
    const header = config.getString("header");
    if (header !== null) this.header = header.toLowerCase();
    const value = config.getString("value");
    if (value !== null) this.value = value;
    if (this.header.length == 0) {
      log.error("{{name}}: \"header\" must not be empty");
      return false;
    }
    return true;
  }

  createHttpContext(contextId: u32): HttpContext {
    return new Filter(contextId, this);
  }
}

// One per request.
class Filter extends HttpContext {
  constructor(contextId: u32, public root_: Root) {
    super(contextId, root_);
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    addResponseHeader(this.root_.header, this.root_.value);
    return FilterHeadersStatus.Continue;
  }
}

registerRootContext("", (contextId: u32): RootContext => new Root(contextId));
