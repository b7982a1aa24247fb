// api-key-auth: lets a request through only with a known API key in a header.
// Config: {"header":"x-api-key","keys":["demo-key"],"paths":["/private"]}
//   "header" defaults to x-api-key; "paths" (optional) limits the check to request paths starting
//   with one of these prefixes; without it every request needs a key.
//   - no key header    → local 401 "missing API key\n" with `www-authenticate: ApiKey`
//   - an unknown key   → local 403 "invalid API key\n"
//   - a known key      → continue; the key header is removed before the request goes upstream.
export * from "../../sdk/assembly/exports";
import {
  FilterHeadersStatus,
  HeaderPair,
  HttpContext,
  RootContext,
  getRequestHeader,
  log,
  parseJson,
  registerRootContext,
  removeRequestHeader,
  sendLocalResponse,
} from "../../sdk/assembly";

class ApiKeyAuthRoot extends RootContext {
  header: string = "x-api-key";
  keys: Set<string> = new Set<string>();
  paths: string[] = [];

  onConfigure(configSize: u32): bool {
    const config = parseJson(this.getPluginConfig());
    if (config === null || !config.isObject) {
      log.error("api-key-auth: the configuration must be a JSON object like {\"header\":\"x-api-key\",\"keys\":[\"demo-key\"]}");
      return false;
    }
    if (config.has("header")) {
      const header = config.getString("header");
      if (header === null || header.length == 0) {
        log.error("api-key-auth: \"header\" must be a non-empty string");
        return false;
      }
      this.header = header.toLowerCase();
    }
    const keys = config.getStringArray("keys");
    if (keys === null || keys.length == 0) {
      log.error("api-key-auth: \"keys\" must be a non-empty array of strings");
      return false;
    }
    if (config.has("paths")) {
      const paths = config.getStringArray("paths");
      if (paths === null) {
        log.error("api-key-auth: \"paths\" must be an array of path prefixes like [\"/private\"]");
        return false;
      }
      this.paths = paths;
    }
    const set = new Set<string>();
    for (let i = 0; i < keys.length; i++) set.add(keys[i]);
    this.keys = set;
    log.info("api-key-auth: " + set.size.toString() + " key(s), header " + this.header);
    return true;
  }

  createHttpContext(contextId: u32): HttpContext {
    return new ApiKeyAuth(contextId, this);
  }
}

class ApiKeyAuth extends HttpContext {
  constructor(contextId: u32, public config: ApiKeyAuthRoot) {
    super(contextId, config);
  }

  /** Whether this request's path is one the configuration protects. */
  isGuarded(): bool {
    const prefixes = this.config.paths;
    if (prefixes.length == 0) return true;
    const path = getRequestHeader(":path");
    if (path === null) return true;
    for (let i = 0; i < prefixes.length; i++) if (path.startsWith(prefixes[i])) return true;
    return false;
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    if (!this.isGuarded()) return FilterHeadersStatus.Continue;
    const key = getRequestHeader(this.config.header);
    if (key === null || key.length == 0) {
      sendLocalResponse(
        401,
        "missing API key\n",
        [new HeaderPair("www-authenticate", "ApiKey"), new HeaderPair("content-type", "text/plain")],
        "api_key_missing",
      );
      return FilterHeadersStatus.StopIteration;
    }
    if (!this.config.keys.has(key)) {
      sendLocalResponse(403, "invalid API key\n", [new HeaderPair("content-type", "text/plain")], "api_key_invalid");
      return FilterHeadersStatus.StopIteration;
    }
    // Authenticated: the upstream never sees the key.
    removeRequestHeader(this.config.header);
    return FilterHeadersStatus.Continue;
  }
}

registerRootContext("", (contextId: u32): RootContext => new ApiKeyAuthRoot(contextId));
