// From a code offset in the sandboxed module back to the offset of the same instruction in the module
// as built, so the build's source map applies to the frames of a trap or deadline stop under the
// sandbox (filters/instrument.ts rewrites the module, and every offset after the first change moves).
//
// Why a byte-level alignment: binaryen.js can neither read a source map nor report where it read an
// expression from, and its re-emission of an unchanged module is not byte-identical to the
// AssemblyScript build either (it drops blocks nothing branches to). But the two versions of a
// function differ only in a few known ways: the rewrite adds `i32.const id; call $log_execution`
// before function bodies, loop bodies and returns (with a `block` around a return), and the
// re-emission drops or adds bare `block`/`end` pairs. So the instructions of each body are walked in
// step, matched by what they are (opcode, constants, memargs, call targets), and the known additions
// are skipped; anything else is bridged by a short look-ahead, and a body that cannot be bridged keeps
// its mapping up to there. An added instruction (a budget check) takes the offset of the next matched
// one in its function, the code it guards: the loop body, the return, the function body.
//
// Built once at filter load, only for a module with a source map; a lookup is a binary search.

import { moduleCode, OP, type ModuleCode } from './wasm-instructions.js';

/** How far ahead the alignment looks to bridge a difference it does not know. */
const LOOKAHEAD = 32;

export class RewriteOffsets {
  /** Start offsets of the rewritten module's instructions, ascending, and the original offset of each (-1: none). */
  readonly #rewritten: Int32Array;
  readonly #original: Int32Array;
  /** Instructions of the original module the alignment matched, and all of them, for the load log. */
  readonly matched: number;
  readonly total: number;

  private constructor(rewritten: Int32Array, original: Int32Array, matched: number, total: number) {
    this.#rewritten = rewritten;
    this.#original = original;
    this.matched = matched;
    this.total = total;
  }

  /**
   * The alignment of `rewritten` (the sandboxed module) with `original` (the file), or null when the
   * two do not have the shape the rewrite gives (one function import and one function added).
   */
  static align(original: Uint8Array, rewritten: Uint8Array): RewriteOffsets | null {
    let a: ModuleCode;
    let b: ModuleCode;
    try {
      a = moduleCode(original, (t) => t);
      // The budget import comes after the file's imports and shifts every defined function by one.
      b = moduleCode(rewritten, (t, imports) => (t >= imports - 1 ? t - 1 : t));
    } catch {
      return null;
    }
    if (b.functionImports !== a.functionImports + 1 || b.bodies.length !== a.bodies.length + 1) return null;
    // The added check function is the last body; its index, shifted back, is one no original call uses.
    const checkKey = (OP.call * 0x10001 + a.functionImports + a.bodies.length) | 0;
    let count = 0;
    for (const body of b.bodies) count += body.offsets.length;
    const rewrittenAt = new Int32Array(count);
    const originalAt = new Int32Array(count).fill(-1);
    let matched = 0;
    let total = 0;
    let base = 0;
    for (let k = 0; k < b.bodies.length; k++) {
      const nb = b.bodies[k];
      rewrittenAt.set(nb.offsets, base);
      if (k < a.bodies.length) {
        const ob = a.bodies[k];
        total += ob.offsets.length;
        const r = alignBody(ob.keys, ob.ops, ob.offsets, nb.keys, nb.ops, checkKey, originalAt, base);
        matched += r.matched;
        fillAdded(originalAt, base, r.stop);
      }
      base += nb.offsets.length;
    }
    return new RewriteOffsets(rewrittenAt, originalAt, matched, total);
  }

  /** The original offset of the instruction at `offset` in the rewritten module, or -1. */
  original(offset: number): number {
    const at = this.#rewritten;
    let lo = 0;
    let hi = at.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (at[mid] === offset) return this.#original[mid];
      if (at[mid] < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}

const isBlockOrEnd = (op: number): boolean => op === OP.block || op === OP.end;

/**
 * Matches one body's instructions; writes original offsets at out[base + j]. Returns how many
 * matched, and where it stopped when a difference could not be bridged (the rest stays unmapped).
 */
function alignBody(
  oKeys: number[],
  oOps: number[],
  oOffsets: number[],
  nKeys: number[],
  nOps: number[],
  checkKey: number,
  out: Int32Array,
  base: number,
): { matched: number; stop: number } {
  let i = 0;
  let j = 0;
  let matched = 0;
  while (i < oKeys.length && j < nKeys.length) {
    if (oKeys[i] === nKeys[j]) {
      out[base + j] = oOffsets[i];
      matched++;
      i++;
      j++;
    } else if (nKeys[j] === checkKey) j++;
    else if (nOps[j] === OP.i32Const && nKeys[j + 1] === checkKey) j += 2;
    else if (isBlockOrEnd(nOps[j])) j++;
    else if (isBlockOrEnd(oOps[i])) i++;
    else {
      const step = bridge(oKeys, oOps, i, nKeys, nOps, j, checkKey);
      if (step === null) return { matched, stop: j };
      i += step[0];
      j += step[1];
    }
  }
  return { matched, stop: nKeys.length };
}

/**
 * The nearest (di, dj) from which both sequences agree again: for two instructions in a row (the
 * rewrite's own additions skipped), or else for one instruction that says much about itself (a call
 * with its target, a constant, a memory access), or null.
 */
function bridge(oKeys: number[], oOps: number[], i: number, nKeys: number[], nOps: number[], j: number, checkKey: number): [number, number] | null {
  let single: [number, number] | null = null;
  for (let d = 1; d <= 2 * LOOKAHEAD; d++) {
    for (let di = Math.max(0, d - LOOKAHEAD); di <= Math.min(d, LOOKAHEAD); di++) {
      const dj = d - di;
      const x = i + di;
      const y = j + dj;
      if (x >= oKeys.length || y >= nKeys.length || oKeys[x] !== nKeys[y]) continue;
      let y2 = y + 1;
      while (y2 < nKeys.length && (nKeys[y2] === checkKey || (nOps[y2] === OP.i32Const && nKeys[y2 + 1] === checkKey))) y2 += nKeys[y2] === checkKey ? 1 : 2;
      if (x + 1 < oKeys.length && y2 < nKeys.length && oKeys[x + 1] === nKeys[y2]) return [di, dj];
      if (single === null && distinctive(oOps[x])) single = [di, dj];
    }
  }
  return single;
}

/** Instructions whose key includes what they act on, so one match is unlikely to be a coincidence. */
function distinctive(op: number): boolean {
  return op === OP.call || op === OP.i32Const || op === 0x42 || (op >= 0x28 && op <= 0x3e) || op >= 0xfc;
}

/** An added instruction (of the first `n` in a body) takes the next matched one's original offset in its body, else the previous one's. */
function fillAdded(out: Int32Array, base: number, n: number): void {
  let next = -1;
  for (let j = base + n - 1; j >= base; j--) {
    if (out[j] >= 0) next = out[j];
    else out[j] = next;
  }
  let prev = -1;
  for (let j = base; j < base + n; j++) {
    if (out[j] >= 0) prev = out[j];
    else out[j] = prev;
  }
}
