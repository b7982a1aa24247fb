// HTTP calls to a named cluster (proxy_http_call) with a handler object for the response: the
// AssemblyScript form of a callback (no closures), with errors as values.
//
//   class AuthDone extends HttpCallHandler {
//     constructor(public ctx: MyHttpContext) { super(); }
//     onResponse(r: HttpCallResponse): void {
//       if (r.failed || r.status != 200) { sendLocalResponse(403, "denied\n"); return; }
//       continueRequest();
//     }
//   }
//   const sent = httpCall(this, "auth", [new HeaderPair(":method", "GET"), ...], null, 1000, new AuthDone(this));
//   if (!sent.ok) ... // sent.status: BadArgument (unknown cluster, a pseudo-header missing), InternalFailure
//
// The response arrives as proxy_on_http_call_response on the root context; the SDK finds the handler
// by token and, for a call made by an HTTP context, makes that context the effective one first, so
// continueRequest(), sendLocalResponse() and the request's header calls act on it. A call made by a
// context that ends first (the client went away) is cancelled by the host: no response comes, and the
// SDK forgets the handler when the context is deleted.
import { BufferType, MapType, WasmResult } from "../../abi/enums";
import { Context } from "./context";
import { HeaderPair, getHeader, getHeaders, serializeHeaders } from "./headers";
import { getBufferBytes } from "./body";
import { fromUtf8 } from "./memory";
import { Result } from "./result";
import { proxy_set_effective_context } from "./imports";

// Declared here rather than in imports.ts: only filters that make calls import it.
// @ts-ignore: decorator
@external("env", "proxy_http_call")
declare function proxy_http_call(
  upstreamPtr: usize, upstreamLen: usize,
  headersPtr: usize, headersLen: usize,
  bodyPtr: usize, bodyLen: usize,
  trailersPtr: usize, trailersLen: usize,
  timeoutMs: u32, retToken: usize,
): u32;

/**
 * The answer to one httpCall, readable during onResponse only. A failed call (timeout, connection
 * refused or reset, unusable response) has no headers: `failed` is true and `status` 0.
 */
export class HttpCallResponse {
  constructor(public token: u32, public numHeaders: u32, public bodySize: u32, public numTrailers: u32) {}

  get failed(): bool {
    return this.numHeaders == 0;
  }

  /** The response status, 0 for a failed call. */
  get status(): u32 {
    if (this.numHeaders == 0) return 0;
    const s = getHeader(MapType.HttpCallResponseHeaders, ":status");
    return s !== null ? <u32>I32.parseInt(s) : 0;
  }

  /** The first value of a response header, or null. */
  header(name: string): string | null {
    return this.numHeaders == 0 ? null : getHeader(MapType.HttpCallResponseHeaders, name);
  }

  headers(): Array<HeaderPair> {
    return this.numHeaders == 0 ? new Array<HeaderPair>() : getHeaders(MapType.HttpCallResponseHeaders);
  }

  trailers(): Array<HeaderPair> {
    return this.numTrailers == 0 ? new Array<HeaderPair>() : getHeaders(MapType.HttpCallResponseTrailers);
  }

  /** The response body's bytes (empty for none or a failed call). */
  body(): ArrayBuffer {
    if (this.bodySize == 0) return new ArrayBuffer(0);
    const b = getBufferBytes(BufferType.HttpCallResponseBody, 0, this.bodySize);
    return b !== null ? b : new ArrayBuffer(0);
  }

  bodyString(): string {
    return fromUtf8(this.body());
  }
}

/** Receives an httpCall's response: extend it, keep what onResponse needs in fields. */
export class HttpCallHandler {
  onResponse(response: HttpCallResponse): void {}
}

class PendingCall {
  constructor(public contextId: u32, public isStream: bool, public handler: HttpCallHandler) {}
}

const pending = new Map<u32, PendingCall>();

/**
 * Sends a request to cluster `cluster` (a name under `clusters:` in Outrigger's config, a cluster in
 * Envoy's). `headers` must hold ":method", ":path" and ":authority"; `body` may be null;
 * `timeoutMs` 0 means the cluster's timeout. On Ok, `handler.onResponse` runs once, later, with
 * `context` made the effective context; the value is the call's token.
 */
export function httpCall(
  context: Context,
  cluster: string,
  headers: Array<HeaderPair>,
  body: ArrayBuffer | null,
  timeoutMs: u32,
  handler: HttpCallHandler,
  trailers: Array<HeaderPair> = [],
): Result<u32> {
  const up = String.UTF8.encode(cluster);
  const h = serializeHeaders(headers);
  const t = trailers.length ? serializeHeaders(trailers) : new ArrayBuffer(0);
  const b = body !== null ? body : new ArrayBuffer(0);
  const tokenOut = memory.data(4);
  store<u32>(tokenOut, 0);
  const status = <WasmResult>proxy_http_call(
    changetype<usize>(up), <usize>up.byteLength,
    changetype<usize>(h), <usize>h.byteLength,
    changetype<usize>(b), <usize>b.byteLength,
    changetype<usize>(t), <usize>t.byteLength,
    timeoutMs, tokenOut,
  );
  if (status != WasmResult.Ok) return new Result<u32>(status, 0);
  const token = load<u32>(tokenOut);
  pending.set(token, new PendingCall(context.contextId, context.rootContextId != 0, handler));
  return new Result<u32>(status, token);
}

/** Calls in flight the SDK waits on (for tests and leak checks). */
export function pendingHttpCalls(): i32 {
  return pending.size;
}

/** proxy_on_http_call_response: true when the token was an httpCall's (its handler ran). */
export function deliverHttpCallResponse(token: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): bool {
  if (!pending.has(token)) return false;
  const call = pending.get(token);
  pending.delete(token);
  // An HTTP context that is gone: the host cancels its calls, so this is only a stale token.
  if (call.isStream && proxy_set_effective_context(call.contextId) != WasmResult.Ok) return true;
  call.handler.onResponse(new HttpCallResponse(token, numHeaders, bodySize, numTrailers));
  return true;
}

/** A context was deleted: forget its calls (the host cancelled them). */
export function forgetHttpCalls(contextId: u32): void {
  if (pending.size == 0) return;
  const tokens = pending.keys();
  for (let i = 0; i < tokens.length; i++) {
    const t = unchecked(tokens[i]);
    if (pending.get(t).contextId == contextId) pending.delete(t);
  }
}
