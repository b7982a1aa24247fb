// A filter's source map: from a wasm byte offset (what V8 puts in a trap's stack frames) to the
// AssemblyScript file, line and column it was compiled from. AssemblyScript writes the map beside the
// module with --sourceMap (outrigger build --debug) and names it in the module's sourceMappingURL
// custom section; a module without one, or whose map is missing, simply gets no source frames.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { originalPositionFor, TraceMap } from '@jridgewell/trace-mapping';

export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

/** Offsets of a rewritten module traced back to the module the map was made for (rewrite-offsets.ts). */
export interface OffsetTranslation {
  /** The offset the map knows for `offset` in the running module, or -1 when there is none. */
  original(offset: number): number;
}

export class SourceMap {
  readonly #map: TraceMap;
  /** Where the map was read from, for logs. */
  readonly file: string;
  /** Set when the running module is a rewrite of the one the map describes (the sandbox). */
  readonly #rewrite: OffsetTranslation | null;

  constructor(json: string | TraceMap, file: string, rewrite: OffsetTranslation | null = null) {
    this.#map = typeof json === 'string' ? new TraceMap(json) : json;
    this.file = file;
    this.#rewrite = rewrite;
  }

  /** The same map for a rewrite of its module: offsets go through `rewrite` first. */
  through(rewrite: OffsetTranslation): SourceMap {
    return new SourceMap(this.#map, this.file, rewrite);
  }

  /** The offset in the module the map describes (the file) of `offset` in the running one, or -1. */
  fileOffset(offset: number): number {
    return this.#rewrite === null ? offset : this.#rewrite.original(offset);
  }

  /** The source position of wasm byte `offset` (line 1, column = offset, as wasm source maps say), or null. */
  position(offset: number): SourcePosition | null {
    offset = this.fileOffset(offset);
    if (offset < 0) return null;
    const p = originalPositionFor(this.#map, { line: 1, column: offset });
    if (p.source === null || p.line === null) return null;
    return { file: p.source, line: p.line, column: (p.column ?? 0) + 1 };
  }
}

/** The URL in a module's sourceMappingURL section (a length-prefixed UTF-8 string), or null. */
export function sourceMappingUrl(module: WebAssembly.Module): string | null {
  const sections = WebAssembly.Module.customSections(module, 'sourceMappingURL');
  if (sections.length === 0) return null;
  const bytes = new Uint8Array(sections[0]);
  let len = 0;
  let shift = 0;
  let i = 0;
  for (; i < bytes.length && i < 5; i++) {
    len |= (bytes[i] & 0x7f) << shift;
    shift += 7;
    if ((bytes[i] & 0x80) === 0) {
      i++;
      break;
    }
  }
  return Buffer.from(bytes.subarray(i, i + len)).toString('utf8') || null;
}

/**
 * The source map a module names, read from beside `wasmFile` (only local, relative or file: URLs:
 * a filter load never goes to the network). Null when there is none or it cannot be read or parsed.
 */
export function loadSourceMap(module: WebAssembly.Module, wasmFile: string | null): SourceMap | null {
  const url = sourceMappingUrl(module);
  if (url === null || wasmFile === null || (/^[a-z][a-z0-9+.-]*:/i.test(url) && !url.startsWith('file:'))) return null;
  const file = url.startsWith('file:') ? new URL(url).pathname : path.resolve(path.dirname(wasmFile), url);
  try {
    return new SourceMap(readFileSync(file, 'utf8'), file);
  } catch {
    return null;
  }
}

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/**
 * The module with its sourceMappingURL section set to `url`. DevTools resolves a relative URL
 * against the script's wasm:// address, where it finds nothing; an absolute file: URL it can load.
 */
export function withSourceMapUrl(bytes: Uint8Array, url: string): Uint8Array {
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  let i = 8;
  while (i < bytes.length) {
    const start = i;
    const id = bytes[i++];
    let size = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[i++];
      size |= (b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) === 0) break;
    }
    const end = i + size;
    let drop = false;
    if (id === 0) {
      let nlen = 0;
      let s2 = 0;
      let j = i;
      for (;;) {
        const b = bytes[j++];
        nlen |= (b & 0x7f) << s2;
        s2 += 7;
        if ((b & 0x80) === 0) break;
      }
      drop = Buffer.from(bytes.subarray(j, j + nlen)).toString('utf8') === 'sourceMappingURL';
    }
    if (!drop) parts.push(bytes.subarray(start, end));
    i = end;
  }
  const name = Buffer.from('sourceMappingURL');
  const value = Buffer.from(url);
  const payload = [...leb(name.length), ...name, ...leb(value.length), ...value];
  parts.push(Uint8Array.from([0, ...leb(payload.length), ...payload]));
  return Buffer.concat(parts);
}
