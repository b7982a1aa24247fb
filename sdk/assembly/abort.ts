// AssemblyScript's `abort` (assertion failures, out-of-bounds access, out of memory, ...) routed to
// the host the Envoy way. Envoy has no `env.abort`, so every filter is built with
// `--use abort=outrigger_abort` (see the repo's asconfig.json, which also lists this file as an
// entry so that any module built with it links). The function logs
//   abort: <message> at <file>:<line>:<column>
// at CRITICAL through proxy_log and then calls WASI proc_exit(255), which the host treats as a fatal
// error of the VM.
//
// This file exports nothing on purpose: it is an entry file, and an entry's exports become the
// module's exports.
import { proxy_log, proc_exit } from "./imports";

let aborting = false;

// @ts-ignore: decorator
@global
function outrigger_abort(
  message: string | null = null,
  fileName: string | null = null,
  lineNumber: u32 = 0,
  columnNumber: u32 = 0,
): void {
  if (!aborting) {
    // A second abort while building the message (e.g. out of memory) skips straight to the exit.
    aborting = true;
    const text =
      "abort: " + (message !== null ? message : "") +
      " at " + (fileName !== null ? fileName : "<unknown>") +
      ":" + lineNumber.toString() + ":" + columnNumber.toString();
    const bytes = String.UTF8.encode(text, false);
    proxy_log(5 /* LogLevel.Critical */, changetype<usize>(bytes), <usize>bytes.byteLength);
  }
  proc_exit(255);
  unreachable();
}
