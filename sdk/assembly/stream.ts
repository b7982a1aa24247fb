// Resuming or closing a paused stream (ABI 0.2.0+: proxy_continue_stream / proxy_close_stream).
// The host defers the action until the current callback returns.
import { StreamType, WasmResult } from "../../abi/enums";
import { proxy_close_stream, proxy_continue_stream } from "./imports";

export function continueStream(type: StreamType): WasmResult {
  return <WasmResult>proxy_continue_stream(<u32>type);
}

export function closeStream(type: StreamType): WasmResult {
  return <WasmResult>proxy_close_stream(<u32>type);
}

/** Resumes a request paused by a headers or body callback. */
export function continueRequest(): WasmResult {
  return continueStream(StreamType.HttpRequest);
}

/** Resumes a paused response. */
export function continueResponse(): WasmResult {
  return continueStream(StreamType.HttpResponse);
}

/** Resets the HTTP stream. */
export function closeRequest(): WasmResult {
  return closeStream(StreamType.HttpRequest);
}

export function closeResponse(): WasmResult {
  return closeStream(StreamType.HttpResponse);
}
