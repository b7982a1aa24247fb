// deny-list-service: a background service keeps a deny-list fresh and hands it to a filter through
// a shared queue; the filter answers 403 to listed client addresses and path prefixes.
//
// One module, two root ids; listed with the same file and vm_id, both run on one instance (two root
// contexts, as Envoy shares a VM), and the queue hands the list from one root to the other:
//   services: [{ name: deny-list-fetcher, file: deny_list_service.wasm, root_id: deny-list-service,
//                vm_id: deny-list, config: {"interval_ms":5000,"entries":["10.1.2.3","/admin"]} }]
//   filters:  [{ name: deny-list, file: deny_list_service.wasm, root_id: deny-list-filter,
//                vm_id: deny-list }]
//
// Service config: "interval_ms" (default 5000) how often the list is sent; "entries" the list
// (client IPs, and path prefixes starting with "/"); "queue" (default "deny-list").
// Every interval the service enqueues the whole list, one entry per line (so a filter instance that
// starts later, a hot swap or a fresh instance after a fault, has it within one interval).
// Filter config (optional): "queue" (default "deny-list"). Until a list has arrived every request
// passes. A denied request gets a local 403 "denied by deny-list\n"; the response of an allowed one
// carries x-deny-list-version (how many lists the filter has received) for a client to see.
export * from "../../sdk/assembly/exports";
import {
  FilterHeadersStatus,
  HttpContext,
  RootContext,
  dequeueSharedQueueString,
  enqueueSharedQueueString,
  getPropertyString,
  getRequestHeader,
  log,
  parseJson,
  registerRootContext,
  registerSharedQueue,
  replaceResponseHeader,
  resolveSharedQueue,
  sendLocalResponse,
  WasmResult,
} from "../../sdk/assembly";

const DEFAULT_QUEUE = "deny-list";

/** The producer: a root context only, ticking. */
class DenyListService extends RootContext {
  queue: string = DEFAULT_QUEUE;
  list: string = "";

  onConfigure(size: u32): bool {
    const config = parseJson(this.getPluginConfig());
    if (config === null || !config.isObject) {
      log.error("deny-list-service: the configuration must be a JSON object like {\"interval_ms\":5000,\"entries\":[\"10.1.2.3\"]}");
      return false;
    }
    const queue = config.getString("queue");
    if (queue !== null) this.queue = queue;
    const entries = config.getStringArray("entries");
    if (entries === null) {
      log.error("deny-list-service: \"entries\" must be an array of client addresses and path prefixes");
      return false;
    }
    this.list = entries.join("\n");
    const interval = <u32>config.getNumber("interval_ms", 5000);
    if (interval == 0) {
      log.error("deny-list-service: \"interval_ms\" must be at least 1");
      return false;
    }
    this.setTickPeriod(interval);
    this.publish();
    return true;
  }

  onTick(): void {
    this.publish();
  }

  publish(): void {
    const id = resolveSharedQueue(this.queue);
    // The filter registers the queue when it starts; until then there is no one to send to.
    if (!id.ok) return;
    const r = enqueueSharedQueueString(id.value, this.list);
    if (r != WasmResult.Ok) log.warn("deny-list-service: enqueue failed: " + (<i32>r).toString());
  }
}

/** The consumer: registers the queue and keeps the newest list. */
class DenyListFilterRoot extends RootContext {
  addresses: Set<string> = new Set<string>();
  prefixes: Array<string> = new Array<string>();
  version: u32 = 0;

  onConfigure(size: u32): bool {
    let queue = DEFAULT_QUEUE;
    const config = parseJson(this.getPluginConfig());
    if (config !== null && config.isObject) {
      const q = config.getString("queue");
      if (q !== null) queue = q;
    }
    const r = registerSharedQueue(queue);
    if (!r.ok) {
      log.error("deny-list: cannot register queue " + queue + ": " + (<i32>r.status).toString());
      return false;
    }
    return true;
  }

  onQueueReady(queueId: u32): void {
    // Only the newest list matters: drain the queue, keep the last item.
    let latest: string | null = null;
    let item = dequeueSharedQueueString(queueId);
    while (item !== null) {
      latest = item;
      item = dequeueSharedQueueString(queueId);
    }
    if (latest === null) return;
    const addresses = new Set<string>();
    const prefixes = new Array<string>();
    const lines = latest.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (line.length == 0) continue;
      if (line.startsWith("/")) prefixes.push(line);
      else addresses.add(line);
    }
    this.addresses = addresses;
    this.prefixes = prefixes;
    this.version++;
  }

  createHttpContext(contextId: u32): HttpContext {
    return new DenyListContext(contextId, this);
  }
}

/** "1.2.3.4:5678" → "1.2.3.4"; "[::1]:5678" → "::1". */
function hostOf(address: string): string {
  if (address.startsWith("[")) {
    const end = address.indexOf("]");
    return end > 0 ? address.substring(1, end) : address;
  }
  const colon = address.lastIndexOf(":");
  return colon > 0 ? address.substring(0, colon) : address;
}

class DenyListContext extends HttpContext {
  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const root = <DenyListFilterRoot>this.root;
    if (root.version == 0) return FilterHeadersStatus.Continue;
    const address = getPropertyString("source.address");
    if (address !== null && root.addresses.has(hostOf(address))) return deny();
    const path = getRequestHeader(":path");
    if (path !== null) {
      for (let i = 0; i < root.prefixes.length; i++) {
        if (path.startsWith(root.prefixes[i])) return deny();
      }
    }
    return FilterHeadersStatus.Continue;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    replaceResponseHeader("x-deny-list-version", (<DenyListFilterRoot>this.root).version.toString());
    return FilterHeadersStatus.Continue;
  }
}

function deny(): FilterHeadersStatus {
  sendLocalResponse(403, "denied by deny-list\n", null, "deny_list");
  return FilterHeadersStatus.StopIteration;
}

registerRootContext("deny-list-service", (id: u32): RootContext => new DenyListService(id));
registerRootContext("deny-list-filter", (id: u32): RootContext => new DenyListFilterRoot(id));
