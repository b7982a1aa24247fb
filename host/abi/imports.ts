// Builds the import object for exactly what a module imports: proxy-wasm host functions, WASI under
// both module names, AssemblyScript's env helpers. Anything not built answers Unimplemented (or
// ENOSYS) and is logged once, so a module built with any SDK links.

import { HOST_FUNCTIONS_0_1_0, HOST_FUNCTIONS_0_2_0, HOST_FUNCTIONS_0_2_1, WASI_MODULES } from '../../abi/functions.js';
import { WasmResult } from '../../abi/enums.js';
import { BUDGET_IMPORT_MODULE, BUDGET_IMPORT_NAME } from './cpu-budget.js';
import { GuestAbort } from './guest-errors.js';
import { withCallDiagnostics } from './host-call-diagnostics.js';
import { proxyHostFunctions } from './host-functions.js';
import { wasiFunctions, wasiUnsupported } from './wasi.js';
import type { WasmVm } from './wasm-vm.js';

type AnyFn = (...args: never[]) => unknown;

/** Reads an AssemblyScript string: UTF-16LE, byte length in the u32 before it. */
function readAsString(vm: WasmVm, ptr: number): string {
  if (!ptr) return 'null';
  const len = vm.memory.readU32(ptr - 4);
  if (len === null) return '<bad string>';
  const bytes = vm.memory.view(ptr, Math.min(len, 4096) & ~1);
  if (bytes === null) return '<bad string>';
  return Buffer.from(bytes).toString('utf16le');
}

function assemblyScriptEnv(vm: WasmVm): Record<string, AnyFn> {
  const log = vm.spec.logger;
  return {
    abort(msg: number, file: number, line: number, col: number) {
      throw new GuestAbort(`abort: ${readAsString(vm, msg)} at ${readAsString(vm, file)}:${line}:${col}`);
    },
    trace(msg: number, n: number, ...args: number[]) {
      log.debug(`trace: ${readAsString(vm, msg)}${n ? ` ${args.slice(0, n).join(', ')}` : ''}`);
    },
    seed: () => Date.now() * Math.random(),
    'Date.now': () => Date.now(),
    'performance.now': () => performance.now(),
    'console.log': (msg: number) => log.info(readAsString(vm, msg)),
    'console.info': (msg: number) => log.info(readAsString(vm, msg)),
    'console.warn': (msg: number) => log.warn(readAsString(vm, msg)),
    'console.error': (msg: number) => log.error(readAsString(vm, msg)),
    'console.debug': (msg: number) => log.debug(readAsString(vm, msg)),
  };
}

/** Host functions the module's ABI version may not use (a 0.2.x module importing a 0.1.0 call fails in Envoy). */
function versionMismatch(vm: WasmVm, name: string): boolean {
  if (vm.abi === '0.1.0') return (HOST_FUNCTIONS_0_2_0 as readonly string[]).includes(name) || (HOST_FUNCTIONS_0_2_1 as readonly string[]).includes(name);
  if (vm.abi === '0.2.0') return (HOST_FUNCTIONS_0_1_0 as readonly string[]).includes(name) || (HOST_FUNCTIONS_0_2_1 as readonly string[]).includes(name);
  return (HOST_FUNCTIONS_0_1_0 as readonly string[]).includes(name);
}

export function buildImports(module: WebAssembly.Module, vm: WasmVm): WebAssembly.Imports {
  const proxy = vm.spec.debug ? withCallDiagnostics(vm, proxyHostFunctions(vm) as never) : proxyHostFunctions(vm);
  const wasi = wasiFunctions(vm);
  const asEnv = assemblyScriptEnv(vm);
  const log = vm.spec.logger;
  const unimplemented = (mod: string, name: string, answer: number) => () => {
    if (!vm.reportedUnimplemented.has(name)) {
      vm.reportedUnimplemented.add(name);
      log.warn(`host function ${mod}.${name} is not implemented by Outrigger yet; it returns ${answer}`);
    }
    return answer;
  };

  const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
  // Functions Outrigger does not provide (env.proxy_*, other env.*, unknown modules): they are stubbed
  // so the module links, and listed so the load can warn and strict_imports can refuse. WASI calls
  // outside the subset answer ENOSYS, which runtimes expect, and are not listed.
  const unknown: string[] = [];
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== 'function') continue;
    const mod = (imports[imp.module] ??= {});
    let fn: AnyFn | undefined;
    if (imp.module === BUDGET_IMPORT_MODULE && imp.name === BUDGET_IMPORT_NAME) fn = vm.budget.check;
    else if (imp.module === 'env') {
      if (imp.name.startsWith('proxy_')) {
        fn = proxy[imp.name] as AnyFn | undefined;
        if (fn !== undefined && versionMismatch(vm, imp.name))
          log.warn(`${imp.name} is not part of proxy-wasm ABI ${vm.abi}; Envoy would refuse to link this module`);
        if (fn === undefined) unknown.push(`${imp.module}.${imp.name}`);
        fn ??= unimplemented(imp.module, imp.name, WasmResult.Unimplemented);
      } else {
        fn = asEnv[imp.name];
        if (fn === undefined) unknown.push(`${imp.module}.${imp.name}`);
        fn ??= unimplemented(imp.module, imp.name, 0);
      }
    } else if ((WASI_MODULES as readonly string[]).includes(imp.module)) {
      fn = wasi[imp.name] ?? unimplemented(imp.module, imp.name, wasiUnsupported());
    } else {
      unknown.push(`${imp.module}.${imp.name}`);
      fn = unimplemented(imp.module, imp.name, 0);
    }
    mod[imp.name] = fn as WebAssembly.ImportValue;
  }
  vm.unknownImports = unknown;
  return imports;
}
