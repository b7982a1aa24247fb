// The module's exports: the ABI marker, the allocator and the proxy_on_* callbacks. A filter's entry
// file re-exports them with
//   export * from "../../sdk/assembly/exports";
// (AssemblyScript exports only what the entry file exports.) Each callback hands off to the
// dispatcher, which finds the context object by id.
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus } from "../../abi/enums";
import * as dispatcher from "./dispatcher";

export { malloc } from "./memory";

/** ABI version marker (never called). */
export function proxy_abi_version_0_2_1(): void {}

export function proxy_on_context_create(contextId: u32, parentContextId: u32): void {
  dispatcher.onContextCreate(contextId, parentContextId);
}

export function proxy_on_vm_start(rootContextId: u32, vmConfigurationSize: u32): bool {
  return dispatcher.onVmStart(rootContextId, vmConfigurationSize);
}

export function proxy_on_configure(rootContextId: u32, pluginConfigurationSize: u32): bool {
  return dispatcher.onConfigure(rootContextId, pluginConfigurationSize);
}

export function proxy_on_tick(rootContextId: u32): void {
  dispatcher.onTick(rootContextId);
}

export function proxy_on_queue_ready(rootContextId: u32, queueId: u32): void {
  dispatcher.onQueueReady(rootContextId, queueId);
}

export function proxy_on_http_call_response(rootContextId: u32, token: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
  dispatcher.onHttpCallResponse(rootContextId, token, numHeaders, bodySize, numTrailers);
}

export function proxy_on_request_headers(contextId: u32, numHeaders: u32, endOfStream: u32): FilterHeadersStatus {
  return dispatcher.onRequestHeaders(contextId, numHeaders, endOfStream != 0);
}

export function proxy_on_request_body(contextId: u32, bodySize: u32, endOfStream: u32): FilterDataStatus {
  return dispatcher.onRequestBody(contextId, bodySize, endOfStream != 0);
}

export function proxy_on_request_trailers(contextId: u32, numTrailers: u32): FilterTrailersStatus {
  return dispatcher.onRequestTrailers(contextId, numTrailers);
}

export function proxy_on_response_headers(contextId: u32, numHeaders: u32, endOfStream: u32): FilterHeadersStatus {
  return dispatcher.onResponseHeaders(contextId, numHeaders, endOfStream != 0);
}

export function proxy_on_response_body(contextId: u32, bodySize: u32, endOfStream: u32): FilterDataStatus {
  return dispatcher.onResponseBody(contextId, bodySize, endOfStream != 0);
}

export function proxy_on_response_trailers(contextId: u32, numTrailers: u32): FilterTrailersStatus {
  return dispatcher.onResponseTrailers(contextId, numTrailers);
}

export function proxy_on_log(contextId: u32): void {
  dispatcher.onLog(contextId);
}

export function proxy_on_done(contextId: u32): bool {
  return dispatcher.onDone(contextId);
}

export function proxy_on_delete(contextId: u32): void {
  dispatcher.onDelete(contextId);
}
