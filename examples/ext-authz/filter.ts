// ext-authz: external authorization through proxy_http_call, as Envoy's ext_authz HTTP service.
// Each request is paused while an auth service decides:
//   - the request's credentials (the headers in "headers", default authorization) go to cluster
//     "cluster" as GET <path_prefix><the request's path>, with x-forwarded-method and
//     x-forwarded-host telling the service what is asked for;
//   - a 2xx answer lets the request continue, with the answer's headers named in
//     "upstream_headers" (e.g. x-user) copied onto it;
//   - any other answer is sent back to the client: its status, its body, and its content-type and
//     www-authenticate headers;
//   - no answer (timeout, connection refused or reset, an unknown cluster) fails closed:
//     "status_on_error" (default 403, Envoy's) with "authorization service unavailable".
// Config: {"cluster":"auth","path_prefix":"/check","timeout_ms":1000,"headers":["authorization"],
//          "upstream_headers":["x-user"],"status_on_error":403}   (all but cluster optional)
export * from "../../sdk/assembly/exports";
import {
  FilterHeadersStatus,
  HeaderPair,
  HttpCallHandler,
  HttpCallResponse,
  HttpContext,
  RootContext,
  continueRequest,
  getRequestHeader,
  httpCall,
  log,
  parseJson,
  registerRootContext,
  replaceRequestHeader,
  sendLocalResponse,
  sendLocalResponseBytes,
} from "../../sdk/assembly";

class ExtAuthzRoot extends RootContext {
  cluster: string = "";
  pathPrefix: string = "";
  timeoutMs: u32 = 1000;
  headers: string[] = ["authorization"];
  upstreamHeaders: string[] = [];
  statusOnError: u32 = 403;

  onConfigure(configSize: u32): bool {
    const config = parseJson(this.getPluginConfig());
    if (config === null || !config.isObject) {
      log.error("ext-authz: the configuration must be a JSON object like {\"cluster\":\"auth\",\"path_prefix\":\"/check\"}");
      return false;
    }
    const cluster = config.getString("cluster");
    if (cluster === null || cluster.length == 0) {
      log.error("ext-authz: \"cluster\" (the auth service's cluster name) is required");
      return false;
    }
    this.cluster = cluster;
    const prefix = config.getString("path_prefix");
    if (prefix !== null) this.pathPrefix = prefix;
    if (config.has("timeout_ms")) {
      const t = config.getNumber("timeout_ms", -1);
      if (t < 0 || t > 3600000 || t != Math.floor(t)) {
        log.error("ext-authz: \"timeout_ms\" must be a whole number of milliseconds (0: the cluster's timeout)");
        return false;
      }
      this.timeoutMs = <u32>t;
    }
    for (let k = 0; k < 2; k++) {
      const key = k == 0 ? "headers" : "upstream_headers";
      if (!config.has(key)) continue;
      const list = config.getStringArray(key);
      if (list === null) {
        log.error("ext-authz: \"" + key + "\" must be an array of header names");
        return false;
      }
      for (let i = 0; i < list.length; i++) list[i] = list[i].toLowerCase();
      if (k == 0) this.headers = list;
      else this.upstreamHeaders = list;
    }
    if (config.has("status_on_error")) {
      const s = config.getNumber("status_on_error", 0);
      if (s < 200 || s > 599 || s != Math.floor(s)) {
        log.error("ext-authz: \"status_on_error\" must be an HTTP status from 200 to 599");
        return false;
      }
      this.statusOnError = <u32>s;
    }
    log.info("ext-authz: cluster " + this.cluster + ", path prefix \"" + this.pathPrefix + "\", timeout " + this.timeoutMs.toString() + " ms");
    return true;
  }

  createHttpContext(contextId: u32): HttpContext {
    return new ExtAuthz(contextId, this);
  }
}

/** The auth service's answer, for the request that asked. */
class Decision extends HttpCallHandler {
  constructor(public config: ExtAuthzRoot) {
    super();
  }

  onResponse(r: HttpCallResponse): void {
    if (r.failed) {
      // Fail closed: no answer is not a yes.
      sendLocalResponse(this.config.statusOnError, "authorization service unavailable\n", null, "ext_authz_error");
      return;
    }
    const status = r.status;
    if (status >= 200 && status < 300) {
      const copy = this.config.upstreamHeaders;
      for (let i = 0; i < copy.length; i++) {
        const v = r.header(copy[i]);
        if (v !== null) replaceRequestHeader(copy[i], v);
      }
      continueRequest();
      return;
    }
    const headers = new Array<HeaderPair>();
    const ct = r.header("content-type");
    if (ct !== null) headers.push(new HeaderPair("content-type", ct));
    const wa = r.header("www-authenticate");
    if (wa !== null) headers.push(new HeaderPair("www-authenticate", wa));
    sendLocalResponseBytes(status >= 200 && status <= 599 ? status : 403, r.body(), headers, "ext_authz_denied");
  }
}

class ExtAuthz extends HttpContext {
  constructor(contextId: u32, public config: ExtAuthzRoot) {
    super(contextId, config);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const c = this.config;
    const path = getRequestHeader(":path");
    const method = getRequestHeader(":method");
    const host = getRequestHeader(":authority");
    const headers = [
      new HeaderPair(":method", "GET"),
      new HeaderPair(":path", c.pathPrefix + (path !== null ? path : "/")),
      new HeaderPair(":authority", c.cluster),
      new HeaderPair("x-forwarded-method", method !== null ? method : "GET"),
      new HeaderPair("x-forwarded-host", host !== null ? host : ""),
    ];
    for (let i = 0; i < c.headers.length; i++) {
      const v = getRequestHeader(c.headers[i]);
      if (v !== null) headers.push(new HeaderPair(c.headers[i], v));
    }
    const sent = httpCall(this, c.cluster, headers, null, c.timeoutMs, new Decision(c));
    if (!sent.ok) {
      log.warn("ext-authz: the call to cluster " + c.cluster + " could not be sent (WasmResult " + sent.status.toString() + ")");
      sendLocalResponse(c.statusOnError, "authorization service unavailable\n", null, "ext_authz_error");
    }
    // Paused until the decision: Decision continues the request or answers it.
    return FilterHeadersStatus.StopIteration;
  }
}

registerRootContext("", (contextId: u32): RootContext => new ExtAuthzRoot(contextId));
