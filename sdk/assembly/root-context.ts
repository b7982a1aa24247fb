// The root (plugin) context: one per filter (plugin) instance. It receives the VM and plugin
// configuration and creates one HttpContext per request.
import { BufferType, WasmResult } from "../../abi/enums";
import { Context } from "./context";
import { HttpContext } from "./http-context";
import { getBufferBytes } from "./body";
import { fromUtf8 } from "./memory";
import { proxy_done, proxy_set_tick_period_milliseconds } from "./imports";

export class RootContext extends Context {
  /** The root id the host reported in property `plugin_root_id` ("" when unset). */
  rootId: string = "";
  /** Size of the VM configuration (buffer 6), as passed to onVmStart. */
  vmConfigurationSize: u32 = 0;
  /** Size of the plugin configuration (buffer 7), as passed to the latest onConfigure. */
  pluginConfigurationSize: u32 = 0;

  constructor(contextId: u32) {
    super(contextId, 0);
  }

  /** proxy_on_vm_start. Return false to fail the VM. */
  onVmStart(vmConfigurationSize: u32): bool {
    return true;
  }

  /**
   * proxy_on_configure. The plugin configuration is readable (getPluginConfig) only during this
   * call. Return false to reject the configuration (the host refuses to load the filter).
   */
  onConfigure(pluginConfigurationSize: u32): bool {
    return true;
  }

  /** proxy_on_tick, every period set with setTickPeriod. */
  onTick(): void {}

  /** proxy_on_queue_ready. */
  onQueueReady(queueId: u32): void {}

  /** proxy_on_http_call_response (the host may not implement HTTP callouts). */
  onHttpCallResponse(token: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {}

  /**
   * Creates the context of one HTTP stream. Override it to return your HttpContext subclass:
   * `return new MyHttpContext(contextId, this);`. The default passes everything through.
   */
  createHttpContext(contextId: u32): HttpContext {
    return new HttpContext(contextId, this);
  }

  /** The plugin configuration (buffer PLUGIN_CONFIGURATION) as bytes; empty when unavailable. */
  getPluginConfigBytes(): ArrayBuffer {
    return readConfig(BufferType.PluginConfiguration, this.pluginConfigurationSize);
  }

  /** The plugin configuration as a UTF-8 string; "" when unavailable. Call it from onConfigure. */
  getPluginConfig(): string {
    return fromUtf8(this.getPluginConfigBytes());
  }

  /** The VM configuration (buffer VM_CONFIGURATION) as bytes; empty when unavailable. */
  getVmConfigBytes(): ArrayBuffer {
    return readConfig(BufferType.VmConfiguration, this.vmConfigurationSize);
  }

  /** The VM configuration as a UTF-8 string. Call it from onVmStart. */
  getVmConfig(): string {
    return fromUtf8(this.getVmConfigBytes());
  }

  /** Sets this root's timer period (0 disables it); proxy_on_tick follows. */
  setTickPeriod(milliseconds: u32): WasmResult {
    return <WasmResult>proxy_set_tick_period_milliseconds(milliseconds);
  }

  /** proxy_done: after returning false from onDone, tells the host the root may now be deleted. */
  done(): WasmResult {
    return <WasmResult>proxy_done();
  }
}

function readConfig(type: BufferType, size: u32): ArrayBuffer {
  if (size == 0) return new ArrayBuffer(0);
  const bytes = getBufferBytes(type, 0, size);
  return bytes !== null ? bytes : new ArrayBuffer(0);
}
