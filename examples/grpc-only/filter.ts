// grpc-only: in front of a gRPC service, answers anything that is not gRPC locally, so browsers,
// health checkers and stray HTTP/1 clients get a clear answer instead of a protocol error from the
// service, and lets gRPC through untouched (trailers and all).
// Config (optional): {"allow":["/healthz"]}: path prefixes passed through whatever they are.
//   - POST with content-type application/grpc (or application/grpc+proto, +json, ...) → continue
//   - anything else → local 415 "this endpoint speaks gRPC only ...\n", with `accept: application/grpc`
//     and the reason in the body (the method or content-type it got)
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
  sendLocalResponse,
} from "../../sdk/assembly";

class GrpcOnlyRoot extends RootContext {
  allow: string[] = [];

  onConfigure(configSize: u32): bool {
    const text = this.getPluginConfig();
    if (text.length == 0) return true;
    const config = parseJson(text);
    if (config === null || !config.isObject) {
      log.error("grpc-only: the configuration must be a JSON object like {\"allow\":[\"/healthz\"]}");
      return false;
    }
    if (config.has("allow")) {
      const allow = config.getStringArray("allow");
      if (allow === null) {
        log.error("grpc-only: \"allow\" must be an array of path prefixes like [\"/healthz\"]");
        return false;
      }
      this.allow = allow;
    }
    return true;
  }

  createHttpContext(contextId: u32): HttpContext {
    return new GrpcOnly(contextId, this);
  }
}

/** gRPC over HTTP/2: content-type application/grpc, optionally with a +subtype or ;parameters. */
function isGrpcContentType(ct: string | null): bool {
  if (ct === null) return false;
  const v = ct.toLowerCase();
  if (!v.startsWith("application/grpc")) return false;
  if (v.length == 16) return true;
  const next = v.charAt(16);
  return next == "+" || next == ";";
}

class GrpcOnly extends HttpContext {
  constructor(contextId: u32, public config: GrpcOnlyRoot) {
    super(contextId, config);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const path = getRequestHeader(":path");
    const allow = this.config.allow;
    if (path !== null) for (let i = 0; i < allow.length; i++) if (path.startsWith(allow[i])) return FilterHeadersStatus.Continue;
    const method = getRequestHeader(":method");
    const ct = getRequestHeader("content-type");
    if (method !== null && method == "POST" && isGrpcContentType(ct)) return FilterHeadersStatus.Continue;
    const why = method === null || method != "POST"
      ? "method " + (method !== null ? method : "(none)") + " (gRPC uses POST)"
      : "content-type " + (ct !== null ? ct : "(none)");
    const headers = new Array<HeaderPair>();
    headers.push(new HeaderPair("accept", "application/grpc"));
    sendLocalResponse(
      415,
      "this endpoint speaks gRPC only (POST with content-type application/grpc); got " + why + "\n",
      headers,
      "grpc_only_not_grpc",
    );
    return FilterHeadersStatus.StopIteration;
  }
}

registerRootContext("", (id: u32): RootContext => new GrpcOnlyRoot(id));
