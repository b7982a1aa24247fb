// Context-id routing: which RootContext / HttpContext object a host callback is for.
//
// Root contexts are created from the factory registered under the plugin's root id (property
// `plugin_root_id`; "" when the host has none). If no factory has that id but exactly one factory is
// registered, that one is used (with a warning when the ids differ). Stream contexts are created by
// their root's createHttpContext. A callback for an unknown context id is logged and answered with
// Continue (false for vm_start/configure, so the host rejects the filter cleanly): it never aborts.
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus } from "../../abi/enums";
import { RootContext } from "./root-context";
import { HttpContext } from "./http-context";
import { getPropertyString } from "./properties";
import { log } from "./log";
import { ContextTable } from "./context-table";
import { deliverHttpCallResponse, forgetHttpCalls } from "./http-call";

/** Makes the root context of a plugin: `(contextId) => new MyRoot(contextId)`. */
export type RootContextFactory = (contextId: u32) => RootContext;

const factoryIds = new Array<string>();
const factories = new Array<RootContextFactory>();
const roots = new ContextTable<RootContext>();
const streams = new ContextTable<HttpContext>();

/**
 * Registers the factory of the root context for plugin root id `rootId` (Outrigger's `root_id`
 * config key, "" by default). Call it from the filter's top-level code. Registering the same id
 * again replaces the factory.
 */
export function registerRootContext(rootId: string, factory: RootContextFactory): void {
  for (let i = 0; i < factoryIds.length; i++) {
    if (unchecked(factoryIds[i]) == rootId) {
      factories[i] = factory;
      return;
    }
  }
  factoryIds.push(rootId);
  factories.push(factory);
}

let lastRootId: u32 = 0;
let lastRoot: RootContext | null = null;

/** The live root context with this id, or null. */
export function getRootContext(contextId: u32): RootContext | null {
  // Every stream context is created under the same root: answer it without a map lookup.
  if (contextId == lastRootId && lastRoot !== null) return lastRoot;
  const root = roots.get(contextId);
  if (root === null) return null;
  lastRootId = contextId;
  lastRoot = root;
  return root;
}

// The host calls one context several times in a row (headers, body, log, done, delete): the last
// one looked up answers without touching the map.
let lastId: u32 = 0;
let lastCtx: HttpContext | null = null;

/** The live HTTP context with this id, or null. */
export function getHttpContext(contextId: u32): HttpContext | null {
  if (contextId == lastId && lastCtx !== null) return lastCtx;
  const ctx = streams.get(contextId);
  if (ctx === null) return null;
  lastId = contextId;
  lastCtx = ctx;
  return ctx;
}

function findFactory(rootId: string): RootContextFactory | null {
  for (let i = 0; i < factoryIds.length; i++) {
    if (unchecked(factoryIds[i]) == rootId) return unchecked(factories[i]);
  }
  if (factories.length == 1) {
    log.warn(
      "outrigger-sdk: no root context registered for root id \"" + rootId + "\"; using the only one, registered as \"" +
        unchecked(factoryIds[0]) + "\"",
    );
    return unchecked(factories[0]);
  }
  return null;
}

export function onContextCreate(contextId: u32, parentContextId: u32): void {
  if (parentContextId == 0) {
    const idProp = getPropertyString("plugin_root_id");
    const rootId = idProp !== null ? idProp : "";
    const factory = findFactory(rootId);
    if (factory === null) {
      log.error(
        "outrigger-sdk: no root context factory for root id \"" + rootId + "\" (" +
          factories.length.toString() + " registered); call registerRootContext(\"" + rootId + "\", ...)",
      );
      return;
    }
    const root = factory(contextId);
    root.contextId = contextId;
    root.rootContextId = 0;
    root.rootId = rootId;
    roots.set(contextId, root);
    return;
  }
  const root = getRootContext(parentContextId);
  if (root === null) {
    log.error("outrigger-sdk: context " + contextId.toString() + " created under unknown root context " + parentContextId.toString());
    return;
  }
  const ctx = root.createHttpContext(contextId);
  ctx.contextId = contextId;
  ctx.rootContextId = parentContextId;
  ctx.root = root;
  streams.set(contextId, ctx);
}

function unknown(callback: string, contextId: u32): void {
  log.warn("outrigger-sdk: " + callback + " for unknown context " + contextId.toString() + "; ignored");
}

export function onVmStart(rootContextId: u32, vmConfigurationSize: u32): bool {
  const root = getRootContext(rootContextId);
  if (root === null) {
    unknown("proxy_on_vm_start", rootContextId);
    return false;
  }
  root.vmConfigurationSize = vmConfigurationSize;
  return root.onVmStart(vmConfigurationSize);
}

export function onConfigure(rootContextId: u32, pluginConfigurationSize: u32): bool {
  const root = getRootContext(rootContextId);
  if (root === null) {
    unknown("proxy_on_configure", rootContextId);
    return false;
  }
  root.pluginConfigurationSize = pluginConfigurationSize;
  return root.onConfigure(pluginConfigurationSize);
}

export function onTick(rootContextId: u32): void {
  const root = getRootContext(rootContextId);
  if (root === null) return unknown("proxy_on_tick", rootContextId);
  root.onTick();
}

export function onQueueReady(rootContextId: u32, queueId: u32): void {
  const root = getRootContext(rootContextId);
  if (root === null) return unknown("proxy_on_queue_ready", rootContextId);
  root.onQueueReady(queueId);
}

export function onHttpCallResponse(rootContextId: u32, token: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
  const root = getRootContext(rootContextId);
  if (root === null) return unknown("proxy_on_http_call_response", rootContextId);
  // A call made with httpCall() goes to its handler; any other to the root's own override.
  if (deliverHttpCallResponse(token, numHeaders, bodySize, numTrailers)) return;
  root.onHttpCallResponse(token, numHeaders, bodySize, numTrailers);
}

export function onRequestHeaders(contextId: u32, numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
  const ctx = getHttpContext(contextId);
  if (ctx === null) {
    unknown("proxy_on_request_headers", contextId);
    return FilterHeadersStatus.Continue;
  }
  return ctx.onRequestHeaders(numHeaders, endOfStream);
}

export function onRequestBody(contextId: u32, bodySize: u32, endOfStream: bool): FilterDataStatus {
  const ctx = getHttpContext(contextId);
  if (ctx === null) {
    unknown("proxy_on_request_body", contextId);
    return FilterDataStatus.Continue;
  }
  return ctx.onRequestBody(bodySize, endOfStream);
}

export function onRequestTrailers(contextId: u32, numTrailers: u32): FilterTrailersStatus {
  const ctx = getHttpContext(contextId);
  if (ctx === null) {
    unknown("proxy_on_request_trailers", contextId);
    return FilterTrailersStatus.Continue;
  }
  return ctx.onRequestTrailers(numTrailers);
}

export function onResponseHeaders(contextId: u32, numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
  const ctx = getHttpContext(contextId);
  if (ctx === null) {
    unknown("proxy_on_response_headers", contextId);
    return FilterHeadersStatus.Continue;
  }
  return ctx.onResponseHeaders(numHeaders, endOfStream);
}

export function onResponseBody(contextId: u32, bodySize: u32, endOfStream: bool): FilterDataStatus {
  const ctx = getHttpContext(contextId);
  if (ctx === null) {
    unknown("proxy_on_response_body", contextId);
    return FilterDataStatus.Continue;
  }
  return ctx.onResponseBody(bodySize, endOfStream);
}

export function onResponseTrailers(contextId: u32, numTrailers: u32): FilterTrailersStatus {
  const ctx = getHttpContext(contextId);
  if (ctx === null) {
    unknown("proxy_on_response_trailers", contextId);
    return FilterTrailersStatus.Continue;
  }
  return ctx.onResponseTrailers(numTrailers);
}

export function onLog(contextId: u32): void {
  const ctx = getHttpContext(contextId);
  if (ctx === null) {
    // proxy_on_log is not meant for root contexts; ignore it quietly for them.
    if (!roots.has(contextId)) unknown("proxy_on_log", contextId);
    return;
  }
  ctx.onLog();
}

export function onDone(contextId: u32): bool {
  const ctx = getHttpContext(contextId);
  if (ctx !== null) return ctx.onDone();
  const root = getRootContext(contextId);
  if (root !== null) return root.onDone();
  unknown("proxy_on_done", contextId);
  return true;
}

export function onDelete(contextId: u32): void {
  const ctx = getHttpContext(contextId);
  if (ctx !== null) {
    streams.delete(contextId);
    if (lastId == contextId) lastCtx = null;
    forgetHttpCalls(contextId);
    ctx.onDelete();
    return;
  }
  const root = getRootContext(contextId);
  if (root !== null) {
    roots.delete(contextId);
    if (lastRootId == contextId) lastRoot = null;
    root.onDelete();
    return;
  }
  unknown("proxy_on_delete", contextId);
}

/** Stream contexts alive now (created, not yet deleted). */
export function liveHttpContexts(): i32 {
  return streams.size;
}
