// What every context (root or HTTP stream) has in common.
import { WasmResult } from "../../abi/enums";
import { proxy_set_effective_context } from "./imports";

export class Context {
  /** The id the host gave this context in proxy_on_context_create. */
  contextId: u32;
  /** The root context's id for a stream context; 0 for a root context. */
  rootContextId: u32;

  constructor(contextId: u32, rootContextId: u32) {
    this.contextId = contextId;
    this.rootContextId = rootContextId;
  }

  /**
   * proxy_on_done: return true when the context may be deleted now. A root context may return false
   * and call `done()` later; the host ignores the value for stream contexts.
   */
  onDone(): bool {
    return true;
  }

  /** proxy_on_delete: the last callback for this context. */
  onDelete(): void {}

  /** Makes later host calls in the current callback act on this context (proxy_set_effective_context). */
  setEffectiveContext(): WasmResult {
    return <WasmResult>proxy_set_effective_context(this.contextId);
  }
}
