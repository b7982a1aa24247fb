// Wall-clock time from the host (AssemblyScript's Date would import env.Date.now, which Envoy lacks).
import { WasmResult } from "../../abi/enums";
import { proxy_get_current_time_nanoseconds } from "./imports";
import { RET_U64, clearReturnSlots } from "./memory";

/** Nanoseconds since the Unix epoch; 0 if the host call fails. */
export function getCurrentTimeNanoseconds(): u64 {
  clearReturnSlots();
  if (proxy_get_current_time_nanoseconds(RET_U64) != WasmResult.Ok) return 0;
  return load<u64>(RET_U64);
}
