// gRPC callouts: unary calls and streams to a cluster the proxy knows, errors as values.
//
//   class Check extends GrpcCallHandler {
//     onResponse(message: ArrayBuffer): void { ... }           // status OK, the response message
//     onFailure(status: GrpcStatus, message: string): void { ... }
//   }
//   const r = grpcCall("authz", "pkg.Authz", "Check", [], requestBytes, 500, new Check());
//   if (!r.ok) log.warn("grpc call not started: " + r.status.toString());
//
// Messages are bytes (encode protobuf with the library of your choice). Callbacks arrive on the
// root context from the event loop; to act on the request that made the call, keep its context in
// the handler and call `ctx.setEffectiveContext()` first, then continueRequest() or
// sendLocalResponse(). A unary call gets exactly one of onResponse / onFailure (Envoy's contract);
// a stream gets onInitialMetadata, onMessage per message, onTrailingMetadata, then onClose.
import { BufferType, GrpcStatus, MapType, WasmResult } from "../../abi/enums";
import { getBufferBytes } from "./body";
import { HeaderPair, getHeaders, serializeHeaders } from "./headers";
import { RET_LEN, RET_PTR, RET_U64, clearReturnSlots, fromUtf8, takeHostBlock, toUtf8 } from "./memory";
import { Result } from "./result";
import { log } from "./log";

// @ts-ignore: decorator
@external("env", "proxy_grpc_call")
declare function proxy_grpc_call(
  upstreamPtr: usize, upstreamLen: usize,
  servicePtr: usize, serviceLen: usize,
  methodPtr: usize, methodLen: usize,
  metadataPtr: usize, metadataLen: usize,
  messagePtr: usize, messageLen: usize,
  timeoutMs: u32, retToken: usize,
): u32;
// @ts-ignore: decorator
@external("env", "proxy_grpc_stream")
declare function proxy_grpc_stream(
  upstreamPtr: usize, upstreamLen: usize,
  servicePtr: usize, serviceLen: usize,
  methodPtr: usize, methodLen: usize,
  metadataPtr: usize, metadataLen: usize,
  retToken: usize,
): u32;
// @ts-ignore: decorator
@external("env", "proxy_grpc_send")
declare function proxy_grpc_send(token: u32, messagePtr: usize, messageLen: usize, endStream: u32): u32;
// @ts-ignore: decorator
@external("env", "proxy_grpc_cancel")
declare function proxy_grpc_cancel(token: u32): u32;
// @ts-ignore: decorator
@external("env", "proxy_grpc_close")
declare function proxy_grpc_close(token: u32): u32;
// @ts-ignore: decorator
@external("env", "proxy_get_status")
declare function proxy_get_status(retCode: usize, retPtr: usize, retLen: usize): u32;

/** The outcome of one unary call. Subclass it; keep in it whatever the answer needs (e.g. the HttpContext). */
export class GrpcCallHandler {
  /** The call's token, set when grpcCall started it. */
  token: u32 = 0;
  /** The call ended OK with this response message. */
  onResponse(message: ArrayBuffer): void {}
  /** The call failed: `status` (Unavailable when the cluster is down, DeadlineExceeded on timeout, ...) and its message. */
  onFailure(status: GrpcStatus, message: string): void {}
}

/** The events of one stream. Subclass it; `stream` is set when grpcStream started it. */
export class GrpcStreamHandler {
  stream: GrpcStream | null = null;
  onInitialMetadata(metadata: Array<HeaderPair>): void {}
  onMessage(message: ArrayBuffer): void {}
  onTrailingMetadata(metadata: Array<HeaderPair>): void {}
  /** The stream ended: OK, or why not. Always the last event. */
  onClose(status: GrpcStatus, message: string): void {}
}

/** An open stream: send messages, half-close, or cancel. */
export class GrpcStream {
  constructor(public token: u32) {}

  /** Sends one message; `endStream` half-closes after it. BadArgument once the stream is closed. */
  send(message: ArrayBuffer, endStream: bool = false): WasmResult {
    return <WasmResult>proxy_grpc_send(this.token, changetype<usize>(message), <usize>message.byteLength, endStream ? 1 : 0);
  }

  /** Half-closes: no more messages from the filter; responses keep coming until onClose. */
  close(): WasmResult {
    return <WasmResult>proxy_grpc_close(this.token);
  }

  /** Resets the stream; no callback follows. */
  cancel(): WasmResult {
    streamHandlers.delete(this.token);
    return <WasmResult>proxy_grpc_cancel(this.token);
  }
}

const callHandlers = new Map<u32, GrpcCallHandler>();
const streamHandlers = new Map<u32, GrpcStreamHandler>();

/**
 * Starts a unary call of `/service/method` on `cluster` with `message`; `timeoutMs` 0 means none
 * (the cluster's timeout_ms, if any). The Result holds the token, or the host's refusal:
 * ParseFailure for an unknown cluster, BadArgument for bad metadata, InternalFailure when too many
 * calls are in flight.
 */
export function grpcCall(
  cluster: string,
  service: string,
  method: string,
  metadata: Array<HeaderPair>,
  message: ArrayBuffer,
  timeoutMs: u32,
  handler: GrpcCallHandler,
): Result<u32> {
  const c = toUtf8(cluster);
  const s = toUtf8(service);
  const m = toUtf8(method);
  const md = serializeHeaders(metadata);
  clearReturnSlots();
  const status = <WasmResult>proxy_grpc_call(
    changetype<usize>(c), <usize>c.byteLength,
    changetype<usize>(s), <usize>s.byteLength,
    changetype<usize>(m), <usize>m.byteLength,
    changetype<usize>(md), <usize>md.byteLength,
    changetype<usize>(message), <usize>message.byteLength,
    timeoutMs, RET_PTR,
  );
  if (status != WasmResult.Ok) return new Result<u32>(status, 0);
  const token = load<u32>(RET_PTR);
  handler.token = token;
  callHandlers.set(token, handler);
  return new Result<u32>(status, token);
}

/** Cancels a unary call: neither onResponse nor onFailure follows. */
export function cancelGrpcCall(token: u32): WasmResult {
  callHandlers.delete(token);
  return <WasmResult>proxy_grpc_cancel(token);
}

/** Opens a stream to `/service/method` on `cluster`. The Result holds the stream, or the host's refusal (as grpcCall). */
export function grpcStream(
  cluster: string,
  service: string,
  method: string,
  metadata: Array<HeaderPair>,
  handler: GrpcStreamHandler,
): Result<GrpcStream | null> {
  const c = toUtf8(cluster);
  const s = toUtf8(service);
  const m = toUtf8(method);
  const md = serializeHeaders(metadata);
  clearReturnSlots();
  const status = <WasmResult>proxy_grpc_stream(
    changetype<usize>(c), <usize>c.byteLength,
    changetype<usize>(s), <usize>s.byteLength,
    changetype<usize>(m), <usize>m.byteLength,
    changetype<usize>(md), <usize>md.byteLength,
    RET_PTR,
  );
  if (status != WasmResult.Ok) return new Result<GrpcStream | null>(status, null);
  const stream = new GrpcStream(load<u32>(RET_PTR));
  handler.stream = stream;
  streamHandlers.set(stream.token, handler);
  return new Result<GrpcStream | null>(status, stream);
}

/** The message of the status being reported (proxy_get_status); "" when the host has none. */
function statusMessage(): string {
  clearReturnSlots();
  // The code goes to the spare u64 slot: the callback already has it.
  if (proxy_get_status(RET_U64, RET_PTR, RET_LEN) != WasmResult.Ok) return "";
  const bytes = takeHostBlock();
  return bytes !== null ? fromUtf8(bytes) : "";
}

function unknownToken(callback: string, token: u32): void {
  log.debug("outrigger-sdk: " + callback + " for unknown gRPC token " + token.toString() + "; ignored");
}

export function onGrpcReceiveInitialMetadata(token: u32, numElements: u32): void {
  if (!streamHandlers.has(token)) return unknownToken("proxy_on_grpc_receive_initial_metadata", token);
  streamHandlers.get(token).onInitialMetadata(getHeaders(MapType.GrpcReceiveInitialMetadata));
}

export function onGrpcReceive(token: u32, messageSize: u32): void {
  const message = messageSize > 0 ? getBufferBytes(BufferType.GrpcReceiveBuffer, 0, messageSize) : null;
  const bytes = message !== null ? message : new ArrayBuffer(0);
  if (callHandlers.has(token)) {
    const h = callHandlers.get(token);
    callHandlers.delete(token);
    h.onResponse(bytes);
    return;
  }
  if (!streamHandlers.has(token)) return unknownToken("proxy_on_grpc_receive", token);
  streamHandlers.get(token).onMessage(bytes);
}

export function onGrpcReceiveTrailingMetadata(token: u32, numElements: u32): void {
  if (!streamHandlers.has(token)) return unknownToken("proxy_on_grpc_receive_trailing_metadata", token);
  streamHandlers.get(token).onTrailingMetadata(getHeaders(MapType.GrpcReceiveTrailingMetadata));
}

export function onGrpcClose(token: u32, statusCode: u32): void {
  if (callHandlers.has(token)) {
    const h = callHandlers.get(token);
    callHandlers.delete(token);
    h.onFailure(<GrpcStatus>statusCode, statusMessage());
    return;
  }
  if (!streamHandlers.has(token)) return unknownToken("proxy_on_grpc_close", token);
  const h = streamHandlers.get(token);
  streamHandlers.delete(token);
  h.onClose(<GrpcStatus>statusCode, statusMessage());
  // Envoy keeps a stream the server closed until the filter closes it too.
  proxy_grpc_close(token);
}
