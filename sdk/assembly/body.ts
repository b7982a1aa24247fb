// Buffers: HTTP bodies (and the configuration buffers) through proxy_get_buffer_bytes /
// proxy_set_buffer_bytes. Writes follow Envoy's semantics, the only ones an Envoy-compatible host
// supports: prepend (start 0, size 0), replace everything (start 0, size >= length), append
// (start >= length). Any other splice returns BadArgument.
import { BufferType, WasmResult } from "../../abi/enums";
import { proxy_get_buffer_bytes, proxy_set_buffer_bytes } from "./imports";
import { RET_LEN, RET_PTR, clearReturnSlots, takeHostBlock } from "./memory";

/**
 * Up to `maxSize` bytes of buffer `type` from `start`. Null on a host error (e.g. NotFound when the
 * buffer is not available in this callback); an empty buffer when there are no bytes.
 */
export function getBufferBytes(type: BufferType, start: u32, maxSize: u32): ArrayBuffer | null {
  clearReturnSlots();
  const status = proxy_get_buffer_bytes(<u32>type, start, maxSize, RET_PTR, RET_LEN);
  if (status != WasmResult.Ok) return null;
  return takeHostBlock();
}

/** Replaces `size` bytes at `start` of buffer `type` with `data` (see the rules above). */
export function setBufferBytes(type: BufferType, start: u32, size: u32, data: ArrayBuffer): WasmResult {
  return <WasmResult>proxy_set_buffer_bytes(<u32>type, start, size, changetype<usize>(data), <usize>data.byteLength);
}

/** Replaces the whole buffer. `currentSize` (the callback's bodySize) may be left at the maximum. */
export function replaceBuffer(type: BufferType, data: ArrayBuffer, currentSize: u32 = u32.MAX_VALUE): WasmResult {
  return setBufferBytes(type, 0, currentSize, data);
}

/** Adds `data` at the end of the buffer. */
export function appendBuffer(type: BufferType, data: ArrayBuffer): WasmResult {
  return setBufferBytes(type, u32.MAX_VALUE, 0, data);
}

/** Adds `data` at the start of the buffer. */
export function prependBuffer(type: BufferType, data: ArrayBuffer): WasmResult {
  return setBufferBytes(type, 0, 0, data);
}

// ---- request body (call from onRequestBody, or while the request is paused) ----
export function getRequestBody(start: u32, maxSize: u32): ArrayBuffer | null {
  return getBufferBytes(BufferType.HttpRequestBody, start, maxSize);
}
export function replaceRequestBody(data: ArrayBuffer, currentSize: u32 = u32.MAX_VALUE): WasmResult {
  return replaceBuffer(BufferType.HttpRequestBody, data, currentSize);
}
export function appendRequestBody(data: ArrayBuffer): WasmResult {
  return appendBuffer(BufferType.HttpRequestBody, data);
}
export function prependRequestBody(data: ArrayBuffer): WasmResult {
  return prependBuffer(BufferType.HttpRequestBody, data);
}

// ---- response body (call from onResponseBody, or while the response is paused) ----
export function getResponseBody(start: u32, maxSize: u32): ArrayBuffer | null {
  return getBufferBytes(BufferType.HttpResponseBody, start, maxSize);
}
export function replaceResponseBody(data: ArrayBuffer, currentSize: u32 = u32.MAX_VALUE): WasmResult {
  return replaceBuffer(BufferType.HttpResponseBody, data, currentSize);
}
export function appendResponseBody(data: ArrayBuffer): WasmResult {
  return appendBuffer(BufferType.HttpResponseBody, data);
}
export function prependResponseBody(data: ArrayBuffer): WasmResult {
  return prependBuffer(BufferType.HttpResponseBody, data);
}
