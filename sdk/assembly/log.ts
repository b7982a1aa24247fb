// Logging through proxy_log. `log.info("...")`, `log.warn(...)`, etc.
import { LogLevel, WasmResult } from "../../abi/enums";
import { proxy_log, proxy_get_log_level } from "./imports";
import { RET_LEN, clearReturnSlots } from "./memory";
import { Result } from "./result";

/** Logs `message` at `level`. Returns the host's WasmResult (BadArgument for a level above 5). */
export function logAt(level: LogLevel, message: string): WasmResult {
  const bytes = String.UTF8.encode(message, false);
  return <WasmResult>proxy_log(<u32>level, changetype<usize>(bytes), <usize>bytes.byteLength);
}

/** The host's current log level (proxy_get_log_level, ABI 0.2.1). */
export function getLogLevel(): Result<LogLevel> {
  clearReturnSlots();
  const status = <WasmResult>proxy_get_log_level(RET_LEN);
  return new Result<LogLevel>(status, status == WasmResult.Ok ? <LogLevel>load<u32>(RET_LEN) : LogLevel.Info);
}

export namespace log {
  export function trace(message: string): void {
    logAt(LogLevel.Trace, message);
  }
  export function debug(message: string): void {
    logAt(LogLevel.Debug, message);
  }
  export function info(message: string): void {
    logAt(LogLevel.Info, message);
  }
  export function warn(message: string): void {
    logAt(LogLevel.Warn, message);
  }
  export function error(message: string): void {
    logAt(LogLevel.Error, message);
  }
  export function critical(message: string): void {
    logAt(LogLevel.Critical, message);
  }
}
