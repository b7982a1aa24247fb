// A debug build's source map for the sandboxed module. The sandbox's rewrite (instrument.ts, then
// memory-cap.ts) moves every code offset, so the map, made for the file, would put a trap on the wrong
// line; the alignment of the two modules (abi/rewrite-offsets.ts) traces each offset back first.
// Built at load only for a module that has a map; a release build pays nothing.

import { RewriteOffsets } from '../abi/rewrite-offsets.js';
import type { SourceMap } from '../abi/source-map.js';

/**
 * The map seen through the rewrite of `original` into `sandboxed`, or null when the two cannot be
 * aligned (the frames then carry function names only, as for a build without a map).
 */
export function mapThroughRewrite(map: SourceMap, original: Uint8Array, sandboxed: Uint8Array): SourceMap | null {
  const offsets = RewriteOffsets.align(original, sandboxed);
  return offsets === null ? null : map.through(offsets);
}
