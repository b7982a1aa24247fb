// `debug: true` on a filter: every proxy_* host call that returns something other than Ok is logged,
// once per call site (the guest function and byte offset that made the call), with the call's name,
// the result, what that result means for that call, the callback it was made in and its arguments.
// Envoy answers "BadArgument" and leaves the author to guess which argument (envoy#24067).
// Off by default: the check is one comparison per call, the stack is read only on a failure.

import { WasmResult } from '../../abi/enums.js';
import { CALLBACK_NAMES } from './callback-names.js';
import type { WasmVm } from './wasm-vm.js';

type HostFn = (...args: number[]) => number;

/** What a result means, as a filter author needs it. */
const WHY: Partial<Record<WasmResult, string>> = {
  [WasmResult.NotFound]: 'nothing there: no such key, header, property or queue, or that map/buffer does not exist in this callback',
  [WasmResult.BadArgument]:
    'an argument is out of range: an unknown map/buffer/stream type or log level, an invalid header name or value, or an offset/size the buffer does not allow',
  [WasmResult.SerializationFailure]: 'the value could not be serialized',
  [WasmResult.ParseFailure]: 'a serialized map or path the filter passed could not be parsed (check the pairs encoding)',
  [WasmResult.InvalidMemoryAccess]: "a pointer and length point outside the filter's memory, or the host could not allocate the result in it",
  [WasmResult.Empty]: 'the queue or buffer is empty',
  [WasmResult.CasMismatch]: 'the shared-data value changed since it was read (compare-and-swap): read it again and retry',
  [WasmResult.InternalFailure]: 'the host refused: a limit was reached (e.g. too many metrics or shared-data keys)',
  [WasmResult.BadExpression]: 'the expression is not valid',
  [WasmResult.ResultMismatch]: 'the result does not fit what was asked',
  [WasmResult.BrokenConnection]: 'the connection is gone',
  [WasmResult.Unimplemented]: 'Outrigger does not implement this call (yet), or not in this callback',
};

/** The guest frame that called the host function: the first wasm frame of a fresh stack. */
function callSite(): string {
  const stack = new Error().stack ?? '';
  for (const line of stack.split('\n')) {
    if (!line.includes('wasm://')) continue;
    return line
      .trim()
      .replace(/^at /, '')
      .replace(/wasm:\/\/wasm\/[^:]*:/, '');
  }
  return 'unknown call site';
}

/** Wraps the proxy_* host functions so non-Ok results are reported (see above). */
export function withCallDiagnostics(vm: WasmVm, functions: Record<string, HostFn>): Record<string, HostFn> {
  const reported = new Set<string>();
  const log = vm.spec.logger;
  const out: Record<string, HostFn> = {};
  for (const [name, fn] of Object.entries(functions)) {
    out[name] = (...args: number[]) => {
      const phase = vm.phase;
      const result = fn(...args);
      if (result === WasmResult.Ok || typeof result !== 'number') return result;
      const site = callSite();
      const key = `${name}\0${site}`;
      if (reported.has(key)) return result;
      reported.add(key);
      log.warn(
        { code: 'OUTRIGGER_HOST_CALL_RESULT', call: name, result: WasmResult[result] ?? result, site, args },
        `${name} returned ${WasmResult[result] ?? result} in ${phase === 0 ? 'no callback' : (CALLBACK_NAMES[phase] ?? 'a callback')} at ${site}: ${WHY[result as WasmResult] ?? 'see the proxy-wasm ABI'} (arguments ${args.join(', ')}; logged once per call site)`,
      );
      return result;
    };
  }
  return out;
}
