// The wasm frames of a guest error, innermost first, named from the module's name section. V8 prints
// a wasm frame as `at name (wasm://wasm/<hash>:wasm-function[<index>]:0x<offset>)`, or with no name
// when the module has none; the index is what the name section maps, so the name comes from there
// whenever the section has one. When the filter was built with a source map, each frame also gets its
// AssemblyScript position: "checkPath (filter.ts:9:33)".

import { BUDGET_IMPORT_MODULE, BUDGET_IMPORT_NAME } from './cpu-budget.js';
import type { SourceMap } from './source-map.js';

/**
 * One wasm frame: function index, its name (or `wasm-function[i]`), and the code offset in the module
 * (in the file as built when a source map traced it back through the sandbox's rewrite).
 */
export interface WasmFrame {
  index: number;
  name: string;
  offset: number;
  /** "file.ts:line:col" from the source map, or null. */
  source: string | null;
}

const FRAME = /wasm-function\[(\d+)\](?::0x([0-9a-f]+))?/i;
/** Frames kept per backtrace: enough to see the path from the callback to the fault. */
const MAX_FRAMES = 16;

const namesByModule = new WeakMap<WebAssembly.Module, Map<number, string>>();

function readLeb(bytes: Uint8Array, pos: { p: number }): number {
  let result = 0;
  let shift = 0;
  for (;;) {
    if (pos.p >= bytes.length) throw new RangeError('truncated LEB128');
    const b = bytes[pos.p++];
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return result;
    shift += 7;
    if (shift > 35) throw new RangeError('LEB128 too long');
  }
}

/** Function names (subsection 1) of a module's `name` custom section; empty when it has none or it is malformed. */
export function functionNames(module: WebAssembly.Module): Map<number, string> {
  const cached = namesByModule.get(module);
  if (cached) return cached;
  const names = new Map<number, string>();
  const decoder = new TextDecoder('utf-8', { fatal: false });
  for (const section of WebAssembly.Module.customSections(module, 'name')) {
    const bytes = new Uint8Array(section);
    const pos = { p: 0 };
    try {
      while (pos.p < bytes.length) {
        const id = bytes[pos.p++];
        const size = readLeb(bytes, pos);
        const end = pos.p + size;
        if (end > bytes.length) break;
        if (id === 1) {
          const count = readLeb(bytes, pos);
          for (let i = 0; i < count && pos.p < end; i++) {
            const index = readLeb(bytes, pos);
            const len = readLeb(bytes, pos);
            if (pos.p + len > end) break;
            names.set(index, decoder.decode(bytes.subarray(pos.p, pos.p + len)));
            pos.p += len;
          }
        }
        pos.p = end;
      }
    } catch {
      // A malformed name section only costs the names.
    }
  }
  namesByModule.set(module, names);
  return names;
}

const checkByModule = new WeakMap<WebAssembly.Module, number>();

/**
 * The index of the budget check function the sandbox added (filters/instrument.ts: the last function,
 * named log_execution, in a module importing the budget check), or -1. A deadline stop is thrown from
 * inside it; its frame is the sandbox's, not the filter's, so the backtrace starts below it.
 */
function budgetCheckIndex(module: WebAssembly.Module, names: Map<number, string>): number {
  let index = checkByModule.get(module);
  if (index === undefined) {
    index = -1;
    if (WebAssembly.Module.imports(module).some((i) => i.module === BUDGET_IMPORT_MODULE && i.name === BUDGET_IMPORT_NAME)) {
      for (const i of names.keys()) if (i > index) index = i;
      if (names.get(index) !== 'log_execution') index = -1;
    }
    checkByModule.set(module, index);
  }
  return index;
}

/** The wasm frames of `err`'s stack, innermost first (what the guest was doing when it faulted). */
export function wasmFrames(err: unknown, module: WebAssembly.Module, sourceMap: SourceMap | null = null): WasmFrame[] {
  const stack = err instanceof Error ? (err.stack ?? '') : '';
  const names = functionNames(module);
  const check = budgetCheckIndex(module, names);
  const frames: WasmFrame[] = [];
  for (const line of stack.split('\n')) {
    const m = FRAME.exec(line);
    if (m === null) continue;
    const index = Number(m[1]);
    if (index === check) continue;
    const printed = /^\s*at\s+(.+?)\s+\(wasm:/.exec(line)?.[1];
    const name = names.get(index) ?? (printed && !printed.startsWith('wasm-function[') ? printed.replace(/^\$/, '') : `wasm-function[${index}]`);
    let offset = m[2] ? Number.parseInt(m[2], 16) : -1;
    const pos = offset >= 0 ? (sourceMap?.position(offset) ?? null) : null;
    // Under the sandbox the offset shown is the file's (what a disassembly of the .wasm shows), when known.
    const inFile = offset >= 0 && sourceMap !== null ? sourceMap.fileOffset(offset) : -1;
    if (inFile >= 0) offset = inFile;
    frames.push({ index, name, offset, source: pos ? `${pos.file}:${pos.line}:${pos.column}` : null });
    if (frames.length === MAX_FRAMES) break;
  }
  return frames;
}

/** The backtrace as lines for /filters and the log, innermost first: "name (file.ts:line:col)" or "name (wasm offset 0x1f3)". */
export function wasmBacktrace(err: unknown, module: WebAssembly.Module, sourceMap: SourceMap | null = null): string[] {
  return wasmFrames(err, module, sourceMap).map((f) => {
    if (f.source !== null) return `${f.name} (${f.source})`;
    return f.offset >= 0 ? `${f.name} (wasm offset 0x${f.offset.toString(16)})` : f.name;
  });
}

/** The innermost frame with a source position outside the AssemblyScript library (~lib/...), or null. */
export function userSourceFrame(err: unknown, module: WebAssembly.Module, sourceMap: SourceMap | null): string | null {
  if (sourceMap === null) return null;
  for (const f of wasmFrames(err, module, sourceMap)) if (f.source !== null && !f.source.startsWith('~lib/')) return `${f.name} (${f.source})`;
  return null;
}
