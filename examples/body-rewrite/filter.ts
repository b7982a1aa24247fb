// body-rewrite: replaces every occurrence of one string with another in text-like response bodies.
// Config: {"from":"hello","to":"howdy"}
// Only responses whose content-type contains "text" or "json" (and that are not content-encoded)
// are rewritten: the body is buffered (StopIterationAndBuffer) until end of stream, then replaced as
// a whole. Content-length is removed, since the length changes. Other responses stream through.
export * from "../../sdk/assembly/exports";
import {
  FilterDataStatus,
  FilterHeadersStatus,
  HttpContext,
  RootContext,
  getResponseBody,
  getResponseHeader,
  log,
  parseJson,
  registerRootContext,
  removeResponseHeader,
  replaceResponseBody,
  toUtf8,
} from "../../sdk/assembly";

class BodyRewriteRoot extends RootContext {
  from: Uint8Array = new Uint8Array(0);
  to: Uint8Array = new Uint8Array(0);

  onConfigure(configSize: u32): bool {
    const config = parseJson(this.getPluginConfig());
    if (config === null || !config.isObject) {
      log.error("body-rewrite: the configuration must be a JSON object like {\"from\":\"hello\",\"to\":\"howdy\"}");
      return false;
    }
    const from = config.getString("from");
    const to = config.getString("to");
    if (from === null || from.length == 0 || to === null) {
      log.error("body-rewrite: \"from\" (non-empty string) and \"to\" (string) are required");
      return false;
    }
    this.from = Uint8Array.wrap(toUtf8(from));
    this.to = Uint8Array.wrap(toUtf8(to));
    return true;
  }

  createHttpContext(contextId: u32): HttpContext {
    return new BodyRewrite(contextId, this);
  }
}

class BodyRewrite extends HttpContext {
  rewrite: bool = false;

  constructor(contextId: u32, public config: BodyRewriteRoot) {
    super(contextId, config);
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    if (endOfStream) return FilterHeadersStatus.Continue; // no body
    const type = getResponseHeader("content-type");
    if (type === null) return FilterHeadersStatus.Continue;
    const t = type.toLowerCase();
    if (!t.includes("text") && !t.includes("json")) return FilterHeadersStatus.Continue;
    const encoding = getResponseHeader("content-encoding");
    if (encoding !== null && encoding.length > 0 && encoding.toLowerCase() != "identity") return FilterHeadersStatus.Continue;
    this.rewrite = true;
    removeResponseHeader("content-length");
    return FilterHeadersStatus.Continue;
  }

  onResponseBody(bodySize: u32, endOfStream: bool): FilterDataStatus {
    if (!this.rewrite) return FilterDataStatus.Continue;
    if (!endOfStream) return FilterDataStatus.StopIterationAndBuffer; // bodySize grows each call
    if (bodySize == 0) return FilterDataStatus.Continue;
    const body = getResponseBody(0, bodySize);
    if (body === null) {
      log.warn("body-rewrite: could not read the buffered response body");
      return FilterDataStatus.Continue;
    }
    const out = replaceAll(Uint8Array.wrap(body), this.config.from, this.config.to);
    if (out !== null) replaceResponseBody(out.buffer, bodySize);
    return FilterDataStatus.Continue;
  }
}

/** `data` with every `from` replaced by `to`, or null when `from` does not occur. */
function replaceAll(data: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array | null {
  const n = data.length;
  const m = from.length;
  const hits = new Array<i32>();
  let i = 0;
  while (i + m <= n) {
    if (matchesAt(data, i, from)) {
      hits.push(i);
      i += m;
    } else {
      i++;
    }
  }
  if (hits.length == 0) return null;
  const out = new Uint8Array(n + hits.length * (to.length - m));
  let src = 0;
  let dst = 0;
  for (let h = 0; h < hits.length; h++) {
    const at = unchecked(hits[h]);
    out.set(data.subarray(src, at), dst);
    dst += at - src;
    out.set(to, dst);
    dst += to.length;
    src = at + m;
  }
  out.set(data.subarray(src, n), dst);
  return out;
}

function matchesAt(data: Uint8Array, at: i32, pattern: Uint8Array): bool {
  const first = unchecked(pattern[0]);
  if (unchecked(data[at]) != first) return false;
  for (let j = 1; j < pattern.length; j++) {
    if (unchecked(data[at + j]) != unchecked(pattern[j])) return false;
  }
  return true;
}

registerRootContext("", (contextId: u32): RootContext => new BodyRewriteRoot(contextId));
