// proxy_call_foreign_function: host functions called by name, Envoy's extension point. Outrigger has
// those of Envoy's that mean something without Envoy's internals; any other name is NotFound, and
// the first call of each unknown name on an instance logs one line naming it.
//
//   compress           zlib-compress the arguments (Envoy's `compress`: zlib's compress(), default
//                      level); the result is the compressed bytes
//   uncompress         the reverse; SerializationFailure for data that is not zlib, or that inflates
//                      past MAX_FOREIGN_UNCOMPRESSED_BYTES
//   clear_route_cache  Ok, nothing to do (Outrigger has one upstream and no route cache)
//
// Not provided, with why: `declare_property` (its arguments are an Envoy protobuf declaring a typed
// CEL property; here proxy_set_property stores bytes with no declaration), `set_envoy_filter_state`
// (Envoy's own filter-state objects), `expr_create` / `expr_evaluate` / `expr_delete` (CEL, no
// evaluator here), `verify_signature` (Envoy's crypto utility; a filter can do it in wasm).

import { deflateSync, inflateSync } from 'node:zlib';
import { WasmResult } from '../../abi/enums.js';
import { MAX_FOREIGN_UNCOMPRESSED_BYTES } from '../limits.js';

/** A result code and, when Ok, the bytes handed back to the guest. */
export type ForeignResult = { result: WasmResult; bytes?: Buffer };

type ForeignFunction = (args: Buffer) => ForeignResult;

const FUNCTIONS = new Map<string, ForeignFunction>([
  ['compress', (args) => ({ result: WasmResult.Ok, bytes: deflateSync(args) })],
  [
    'uncompress',
    (args) => {
      try {
        return { result: WasmResult.Ok, bytes: inflateSync(args, { maxOutputLength: MAX_FOREIGN_UNCOMPRESSED_BYTES }) };
      } catch {
        return { result: WasmResult.SerializationFailure };
      }
    },
  ],
  ['clear_route_cache', () => ({ result: WasmResult.Ok })],
]);

/** The names Outrigger answers, for the log line about an unknown one. */
export const FOREIGN_FUNCTION_NAMES: readonly string[] = [...FUNCTIONS.keys()];

/** The function's outcome, or undefined when Outrigger has no function of that name. */
export function callForeignFunction(name: string, args: Buffer): ForeignResult | undefined {
  return FUNCTIONS.get(name)?.(args);
}
