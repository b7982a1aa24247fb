// Part of the SDK's build transform (index.mjs): drops the exports of per-request callbacks that
// no context class in the program overrides.
//
// Every proxy-wasm export is optional: a host calls only what a module exports and treats a missing
// HTTP callback as Continue (Envoy/cpp-host and Outrigger alike). The SDK's exports.ts exports all
// of them, because a library cannot know which methods a filter will override; the compiler does.
// Under load each guest call costs the host ~0.1-0.16 µs even when it does nothing, and an SDK
// filter typically overrides two or three of the nine below.
//
// Exact, not heuristic: a callback stays exported if any class extending the SDK's HttpContext
// (for onDone: its Context) declares the method, however deep the subclass and whether or not it
// calls super. proxy_on_context_create and proxy_on_delete always stay (the SDK's context table
// needs them), and so do the root-context callbacks.
import { Transform } from 'assemblyscript/transform';

/** Export → the method that makes it needed, and the SDK class that declares the default. */
const PRUNABLE = [
  ['proxy_on_request_headers', 'onRequestHeaders', 'HttpContext'],
  ['proxy_on_request_body', 'onRequestBody', 'HttpContext'],
  ['proxy_on_request_trailers', 'onRequestTrailers', 'HttpContext'],
  ['proxy_on_response_headers', 'onResponseHeaders', 'HttpContext'],
  ['proxy_on_response_body', 'onResponseBody', 'HttpContext'],
  ['proxy_on_response_trailers', 'onResponseTrailers', 'HttpContext'],
  ['proxy_on_log', 'onLog', 'HttpContext'],
  ['proxy_on_done', 'onDone', 'Context'],
];

/** The SDK class files that declare the defaults, relative to the SDK's assembly directory. */
const SDK_CLASSES = {
  HttpContext: '/http-context/HttpContext',
  Context: '/context/Context',
};

export default class PruneCallbacks extends Transform {
  #prune = [];

  afterInitialize(program) {
    const classes = [...program.elementsByName.values()].filter((e) => e.instanceMembers !== undefined && 'basePrototype' in e);
    const httpContext = classes.find((c) => c.name === 'HttpContext' && /(^|\/)sdk\/assembly\/http-context\/HttpContext$/.test(c.internalName));
    // Not an Outrigger SDK filter (or an unexpected layout): leave every export alone.
    if (!httpContext) return;
    // The SDK's own classes are the ones declared in files directly in its assembly directory.
    const sdkDir = httpContext.internalName.slice(0, -SDK_CLASSES.HttpContext.length);
    const isSdk = (c) => c.internalName.startsWith(`${sdkDir}/`) && c.internalName.slice(sdkDir.length + 1).split('/').length === 2;
    const sdk = {};
    for (const [name, suffix] of Object.entries(SDK_CLASSES)) sdk[name] = classes.find((c) => c.internalName === sdkDir + suffix);
    if (!sdk.Context) return;
    for (const [exportName, method, base] of PRUNABLE) {
      const overridden = classes.some((c) => !isSdk(c) && c.extends(sdk[base]) && c.instanceMembers?.has(method));
      if (!overridden) this.#prune.push(exportName);
    }
  }

  afterCompile(module) {
    for (const name of this.#prune) if (module.getExport(name)) module.removeExport(name);
  }
}
