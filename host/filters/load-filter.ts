// Turns a .wasm file and its config entry into a started filter: read, hash, compile, check the ABI,
// instantiate, start and configure. Each step that fails says which file and what to do.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { AbiVersion } from '../../abi/functions.js';
import { detectAbiVersion } from '../abi/abi-version.js';
import { WasmFilter } from '../abi/wasm-filter.js';
import type { FilterConfig } from '../config/config.js';
import { OutriggerError } from '../errors.js';

export interface CompiledModule {
  module: WebAssembly.Module;
  abi: AbiVersion;
  sha256: string;
  size: number;
}

/** Reads and compiles a filter file (off the event loop: WebAssembly.compile is asynchronous). */
export async function compileFilterFile(file: string, name: string): Promise<CompiledModule> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new OutriggerError('OUTRIGGER_FILTER_FILE', `${name}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'check filters_dir and the filter\'s file name');
  }
  return compileFilterBytes(bytes, name, file);
}

export async function compileFilterBytes(bytes: Buffer, name: string, file: string): Promise<CompiledModule> {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  } catch (err) {
    throw new OutriggerError('OUTRIGGER_WASM_COMPILE', `${name}: ${file} is not a valid WebAssembly module (${(err as Error).message})`, 'rebuild the filter; a file copied while still being written looks like this too');
  }
  return { module, abi: detectAbiVersion(module, name), sha256, size: bytes.byteLength };
}

/** Starts a filter from a compiled module. Throws OutriggerError when it does not start. */
export function startFilter(compiled: CompiledModule, entry: FilterConfig, logger: Logger): WasmFilter {
  const child = logger.child({ filter: entry.name });
  return new WasmFilter(
    compiled.module,
    compiled.abi,
    {
      name: entry.name,
      rootId: entry.rootId,
      vmId: entry.vmId,
      configuration: entry.configuration,
      vmConfiguration: entry.vmConfiguration,
      logger: child,
    },
    entry.onError,
  );
}
