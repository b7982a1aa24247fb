// A fault's backtrace as a filter author reads it: the wasm frames of the error's stack, innermost
// first, each with its function name (V8 takes it from the module's name section) and, when the
// filter was built with a source map, the AssemblyScript position: "checkPath (filter.ts:9:33)".

import type { SourceMap } from './source-map.js';

/** Frames of the stack kept for /filters and the log: deeper ones are the SDK's dispatch. */
const MAX_FRAMES = 16;

// "    at name (wasm://wasm/1a2b3c4d:wasm-function[12]:0x1f3)" or, unnamed, "    at wasm://wasm/...".
const FRAME = /^\s*at (?:(.*?) \()?wasm:\/\/wasm\/[^:]*:wasm-function\[(\d+)\]:0x([0-9a-f]+)\)?$/i;

export interface WasmFrame {
  /** The function's name, or wasm-function[N] without a name section. */
  name: string;
  /** Byte offset in the module. */
  offset: number;
  /** "file.ts:line:col" from the source map, or null. */
  source: string | null;
}

export function wasmFrames(err: unknown, sourceMap: SourceMap | null = null): WasmFrame[] {
  const stack = err instanceof Error ? (err.stack ?? '') : '';
  const out: WasmFrame[] = [];
  for (const line of stack.split('\n')) {
    const m = FRAME.exec(line);
    if (!m) continue;
    const offset = Number.parseInt(m[3], 16);
    const pos = sourceMap?.position(offset) ?? null;
    out.push({ name: m[1] || `wasm-function[${m[2]}]`, offset, source: pos ? `${pos.file}:${pos.line}:${pos.column}` : null });
    if (out.length === MAX_FRAMES) break;
  }
  return out;
}

/** The backtrace as lines, innermost first: "name (file.ts:line:col)" or "name (wasm offset 0x1f3)". */
export function wasmBacktrace(err: unknown, sourceMap: SourceMap | null = null): string[] {
  return wasmFrames(err, sourceMap).map((f) => `${f.name} (${f.source ?? `wasm offset 0x${f.offset.toString(16)}`})`);
}

/** The innermost frame with a source position outside the AssemblyScript library (~lib/...), or null. */
export function userSourceFrame(err: unknown, sourceMap: SourceMap | null): string | null {
  if (sourceMap === null) return null;
  for (const f of wasmFrames(err, sourceMap)) if (f.source !== null && !f.source.startsWith('~lib/')) return `${f.name} (${f.source})`;
  return null;
}
