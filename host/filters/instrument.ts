// Rewrites a filter's module at load so that a callback can be stopped: a budget check at every
// function entry, loop header and return. A synchronous wasm call on the event loop cannot be
// pre-empted by a timer, so the module has to come back to the host on its own.
//
// Choice (measured, see README "Sandbox"): binaryen's `log-execution` pass places the check calls;
// the import it adds is replaced by an internal function that only decrements a fuel counter in a
// mutable global and calls the host (`outrigger.budget_check`, which reads the clock against the
// callback's deadline: cpu-budget.ts) when the fuel runs out. A check is then a direct wasm call and
// a global decrement; the clock is read once every BUDGET_CHECK_FUEL checks. The alternative, a VM
// per worker thread with a watchdog that terminates it, pays a thread hand-off on every callback
// (several per request), which costs more than the whole chain does today.
//
// The name section is kept (backtraces name functions) and the sha256 the admin API reports is the
// file's, computed before this rewrite.

import { BUDGET_IMPORT_MODULE, BUDGET_IMPORT_NAME } from '../abi/cpu-budget.js';
import { OutriggerError } from '../errors.js';

type Binaryen = typeof import('binaryen').default;
let binaryenLoaded: Promise<Binaryen> | null = null;

/** binaryen is a large module with top-level await: loaded on the first filter load only. */
function loadBinaryen(): Promise<Binaryen> {
  binaryenLoaded ??= import('binaryen').then((m) => m.default);
  return binaryenLoaded;
}

/** The sandbox off: only for `npm run bench` to measure what the protection costs. Never in production. */
export function sandboxDisabled(): boolean {
  return process.env.OUTRIGGER_UNSAFE_NO_SANDBOX === '1';
}

/** Returns the module with budget checks inserted. Throws OutriggerError if binaryen cannot read it. */
export async function instrumentModule(bytes: Uint8Array, name: string, file: string): Promise<Uint8Array> {
  const binaryen = await loadBinaryen();
  let mod: InstanceType<Binaryen['Module']>;
  try {
    mod = binaryen.readBinaryWithFeatures(bytes, binaryen.Features.All);
  } catch (err) {
    throw new OutriggerError(
      'OUTRIGGER_WASM_COMPILE',
      `${name}: ${file} could not be read for sandboxing (${(err as Error).message})`,
      'rebuild the filter with a current toolchain',
    );
  }
  try {
    const debugInfo = binaryen.getDebugInfo();
    binaryen.setDebugInfo(true); // keeps the name section in emitBinary
    try {
      const { i32, none } = binaryen;
      // An internal name the module cannot already use (binaryen's names come from the name section).
      let fuel = 'outrigger$fuel';
      while (mod.getGlobal(fuel) !== 0) fuel += '_';
      binaryen.setPassArgument('log-execution', BUDGET_IMPORT_MODULE);
      mod.runPasses(['log-execution']);
      // log-execution calls an import `log_execution(i32 id)`; make it our fuel check instead.
      mod.removeFunction('log_execution');
      const host = `${fuel}$host`;
      mod.addFunctionImport(host, BUDGET_IMPORT_MODULE, BUDGET_IMPORT_NAME, none, i32);
      mod.addGlobal(fuel, i32, true, mod.i32.const(0));
      mod.addFunction(
        'log_execution',
        i32,
        none,
        [],
        mod.block(null, [
          mod.global.set(fuel, mod.i32.sub(mod.global.get(fuel, i32), mod.i32.const(1))),
          mod.if(mod.i32.lt_s(mod.global.get(fuel, i32), mod.i32.const(0)), mod.global.set(fuel, mod.call(host, [], i32))),
        ]),
      );
      if (!mod.validate()) throw new Error('the instrumented module does not validate');
      return mod.emitBinary();
    } finally {
      binaryen.setDebugInfo(debugInfo);
    }
  } catch (err) {
    throw new OutriggerError(
      'OUTRIGGER_WASM_COMPILE',
      `${name}: ${file} could not be instrumented for CPU budgets (${err instanceof Error ? err.message : String(err)})`,
      'report this with the .wasm file; OUTRIGGER_UNSAFE_NO_SANDBOX exists for benchmarks only',
    );
  } finally {
    mod.dispose();
  }
}
