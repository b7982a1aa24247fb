// A host-call outcome as a value: the WasmResult code and, when it is Ok, the value.
// The SDK never aborts on a host error; helpers return null, a Result, or the WasmResult code.
import { WasmResult } from "../../abi/enums";

export class Result<T> {
  constructor(public status: WasmResult, public value: T) {}

  /** True when the host call returned Ok. */
  get ok(): bool {
    return this.status == WasmResult.Ok;
  }
}
