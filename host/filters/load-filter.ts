// Turns a .wasm file and its config entry into a started filter: read, hash, compile, check the ABI,
// instantiate, start and configure. Each step that fails says which file and what to do.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import type { AbiVersion } from '../../abi/functions.js';
import { detectAbiVersion } from '../abi/abi-version.js';
import type { MetricRegistry } from '../abi/filter-metrics.js';
import type { GrpcCallDispatcher } from '../abi/grpc-call-dispatcher.js';
import type { HttpCallDispatcher } from '../abi/http-call-dispatcher.js';
import type { SharedData } from '../abi/shared-data.js';
import type { SharedQueues } from '../abi/shared-queues.js';
import { loadSourceMap, withSourceMapUrl, type SourceMap } from '../abi/source-map.js';
import { WasmFilter } from '../abi/wasm-filter.js';
import type { PluginSpec } from '../abi/wasm-vm.js';
import type { FilterConfig } from '../config/config.js';
import { OutriggerError } from '../errors.js';
import { instrumentModule, sandboxDisabled } from './instrument.js';
import { mapThroughRewrite } from './map-through-rewrite.js';
import { capMemory } from './memory-cap.js';

export interface CompiledModule {
  module: WebAssembly.Module;
  abi: AbiVersion;
  sha256: string;
  size: number;
  /** The source map the module names (debug builds), or null. */
  sourceMap: SourceMap | null;
}

export interface FilterFile {
  bytes: Buffer;
  sha256: string;
}

/** Reads a filter file and hashes it; the hash decides whether anything needs compiling. */
export async function readFilterFile(file: string, name: string): Promise<FilterFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new OutriggerError(
      'OUTRIGGER_FILTER_FILE',
      `${name}: cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? (err as Error).message)}`,
      "check filters_dir and the filter's file name",
    );
  }
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * Compiles off the event loop (WebAssembly.compile is asynchronous) and checks the ABI marker. The
 * module is first checked, then sandboxed: budget checks instrumented (instrument.ts) and its memory
 * capped at `memoryMb` (memory-cap.ts). `sha256` stays the file's.
 */
export async function compileFilter({ bytes, sha256 }: FilterFile, name: string, file: string, memoryMb: number): Promise<CompiledModule> {
  let module: WebAssembly.Module;
  let sourceMap: SourceMap | null;
  try {
    module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    sourceMap = loadSourceMap(module, file);
    if (!sandboxDisabled()) {
      const sandboxed = capMemory(await instrumentModule(bytes, name, file), memoryMb, name, file);
      module = await WebAssembly.compile(sandboxed as Uint8Array<ArrayBuffer>);
      // The rewrite moves every code offset: the map then applies through the alignment of the two.
      if (sourceMap !== null) sourceMap = mapThroughRewrite(sourceMap, bytes, sandboxed);
    }
  } catch (err) {
    if (err instanceof OutriggerError) throw err;
    throw new OutriggerError(
      'OUTRIGGER_WASM_COMPILE',
      `${name}: ${file} is not a valid WebAssembly module (${(err as Error).message})`,
      'rebuild the filter; a file copied while still being written looks like this too',
    );
  }
  // For DevTools (--inspect, which turns the sandbox off): the map by an absolute file: URL, which it can fetch.
  if (sourceMap !== null && sandboxDisabled())
    module = await WebAssembly.compile(withSourceMapUrl(bytes, pathToFileURL(sourceMap.file).href) as Uint8Array<ArrayBuffer>);
  return { module, abi: detectAbiVersion(module, name), sha256, size: bytes.byteLength, sourceMap };
}

type SharedStores = {
  metrics: MetricRegistry;
  sharedData: SharedData;
  sharedQueues: SharedQueues;
  httpCalls?: HttpCallDispatcher;
  grpcCalls?: GrpcCallDispatcher;
};

function pluginSpec(compiled: CompiledModule, entry: FilterConfig, logger: Logger, shared: SharedStores, rootOnly: boolean): PluginSpec {
  return {
    name: entry.name,
    rootId: entry.rootId,
    vmId: entry.vmId,
    configuration: entry.configuration,
    vmConfiguration: entry.vmConfiguration,
    logger: logger.child({ filter: entry.name }),
    metrics: shared.metrics,
    sharedData: shared.sharedData,
    sharedQueues: shared.sharedQueues,
    httpCalls: shared.httpCalls,
    grpcCalls: shared.grpcCalls,
    limits: entry.limits,
    strictImports: entry.strictImports,
    debug: entry.debug,
    sourceMap: compiled.sourceMap,
    rootOnly,
  };
}

/** Starts a filter from a compiled module. Throws OutriggerError when it does not start. */
export function startFilter(
  compiled: CompiledModule,
  entry: FilterConfig,
  logger: Logger,
  shared: SharedStores,
  /** A `services:` entry: root context only (no HTTP context probe; breaker trials on a timer). */
  rootOnly = false,
): WasmFilter {
  return new WasmFilter(compiled.module, compiled.abi, pluginSpec(compiled, entry, logger, shared, rootOnly), entry.onError, entry.breaker);
}

/**
 * Starts entries that share one instance (the same vm_id and file): one root context each, in this
 * order. The instance-wide settings (limits, breaker, vm_config) are the same for all of them, as
 * the filter manager groups only such entries.
 */
export function startFilterGroup(
  compiled: CompiledModule,
  members: { entry: FilterConfig; rootOnly: boolean }[],
  logger: Logger,
  shared: SharedStores,
): WasmFilter[] {
  return WasmFilter.group(
    compiled.module,
    compiled.abi,
    members.map((m) => ({ spec: pluginSpec(compiled, m.entry, logger, shared, m.rootOnly), policy: m.entry.onError })),
    members[0].entry.breaker,
  );
}
