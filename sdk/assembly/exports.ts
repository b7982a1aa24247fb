// The module's exports: the ABI marker, the allocator and the proxy_on_* callbacks. A filter's entry
// file re-exports them with
//   export * from "../../sdk/assembly/exports";
// (AssemblyScript exports only what the entry file exports.) Each callback hands off to the
// dispatcher, which finds the context object by id, between enterCallback/leaveCallback so the
// collector runs only once the outermost callback is over (see collector.ts).
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus } from "../../abi/enums";
import * as dispatcher from "./dispatcher";
import { enterCallback, leaveCallback } from "./collector";

export { malloc } from "./memory";

/** ABI version marker (never called). */
export function proxy_abi_version_0_2_1(): void {}

export function proxy_on_context_create(contextId: u32, parentContextId: u32): void {
  enterCallback();
  dispatcher.onContextCreate(contextId, parentContextId);
  leaveCallback();
}

export function proxy_on_vm_start(rootContextId: u32, vmConfigurationSize: u32): bool {
  enterCallback();
  const result = dispatcher.onVmStart(rootContextId, vmConfigurationSize);
  leaveCallback();
  return result;
}

export function proxy_on_configure(rootContextId: u32, pluginConfigurationSize: u32): bool {
  enterCallback();
  const result = dispatcher.onConfigure(rootContextId, pluginConfigurationSize);
  leaveCallback();
  return result;
}

export function proxy_on_tick(rootContextId: u32): void {
  enterCallback();
  dispatcher.onTick(rootContextId);
  leaveCallback();
}

export function proxy_on_queue_ready(rootContextId: u32, queueId: u32): void {
  enterCallback();
  dispatcher.onQueueReady(rootContextId, queueId);
  leaveCallback();
}

export function proxy_on_http_call_response(rootContextId: u32, token: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
  enterCallback();
  dispatcher.onHttpCallResponse(rootContextId, token, numHeaders, bodySize, numTrailers);
  leaveCallback();
}

export function proxy_on_request_headers(contextId: u32, numHeaders: u32, endOfStream: u32): FilterHeadersStatus {
  enterCallback();
  const result = dispatcher.onRequestHeaders(contextId, numHeaders, endOfStream != 0);
  leaveCallback();
  return result;
}

export function proxy_on_request_body(contextId: u32, bodySize: u32, endOfStream: u32): FilterDataStatus {
  enterCallback();
  const result = dispatcher.onRequestBody(contextId, bodySize, endOfStream != 0);
  leaveCallback();
  return result;
}

export function proxy_on_request_trailers(contextId: u32, numTrailers: u32): FilterTrailersStatus {
  enterCallback();
  const result = dispatcher.onRequestTrailers(contextId, numTrailers);
  leaveCallback();
  return result;
}

export function proxy_on_response_headers(contextId: u32, numHeaders: u32, endOfStream: u32): FilterHeadersStatus {
  enterCallback();
  const result = dispatcher.onResponseHeaders(contextId, numHeaders, endOfStream != 0);
  leaveCallback();
  return result;
}

export function proxy_on_response_body(contextId: u32, bodySize: u32, endOfStream: u32): FilterDataStatus {
  enterCallback();
  const result = dispatcher.onResponseBody(contextId, bodySize, endOfStream != 0);
  leaveCallback();
  return result;
}

export function proxy_on_response_trailers(contextId: u32, numTrailers: u32): FilterTrailersStatus {
  enterCallback();
  const result = dispatcher.onResponseTrailers(contextId, numTrailers);
  leaveCallback();
  return result;
}

export function proxy_on_log(contextId: u32): void {
  enterCallback();
  dispatcher.onLog(contextId);
  leaveCallback();
}

export function proxy_on_done(contextId: u32): bool {
  enterCallback();
  const result = dispatcher.onDone(contextId);
  leaveCallback();
  return result;
}

export function proxy_on_delete(contextId: u32): void {
  enterCallback();
  dispatcher.onDelete(contextId);
  leaveCallback();
}
