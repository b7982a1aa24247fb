// The instructions of a module's function bodies: where each one starts and a key saying what it is,
// enough to line up two versions of the same code (rewrite-offsets.ts). Only instruction boundaries
// are decoded, not meaning; a body using an opcode this does not know (wasm GC's 0xfb prefix, say)
// stops at that opcode, so only its first part is known and the rest of it has no source frames.

/** One function body's instructions: `offsets[i]` is the module byte offset of instruction i, `keys[i]` what it is. */
export interface BodyInstructions {
  /** Module byte offset where the body (its local declarations) starts, and where it ends. */
  start: number;
  end: number;
  offsets: number[];
  keys: number[];
  /** The opcode byte of each instruction (the prefix byte for prefixed ones). */
  ops: number[];
}

export interface ModuleCode {
  /** Function imports: the index of the first body. */
  functionImports: number;
  bodies: BodyInstructions[];
}

/** Opcodes the alignment treats specially. */
export const OP = { block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, call: 0x10, i32Const: 0x41 } as const;

class Reader {
  p: number;
  constructor(
    readonly b: Uint8Array,
    p: number,
  ) {
    this.p = p;
  }
  byte(): number {
    if (this.p >= this.b.length) throw new RangeError('truncated module');
    return this.b[this.p++];
  }
  /** Unsigned LEB128 (as a JS number; sizes and indices fit). */
  u(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new RangeError('LEB128 too long');
    }
  }
  /** Signed LEB128, skipped; returns a hash of its bytes (constants are part of an instruction's key). */
  s(): number {
    let h = 0;
    for (let n = 0; ; n++) {
      const b = this.byte();
      h = (h * 31 + b) | 0;
      if ((b & 0x80) === 0) return h;
      if (n > 10) throw new RangeError('LEB128 too long');
    }
  }
  skip(n: number): void {
    this.p += n;
    if (this.p > this.b.length) throw new RangeError('truncated module');
  }
  name(): void {
    this.skip(this.u());
  }
}

/** A value type: one byte, or a reference type (0x63/0x64) followed by its heap type. */
function valType(r: Reader): void {
  const t = r.byte();
  if (t === 0x63 || t === 0x64) r.s();
}

/** A block type: empty (0x40), a value type, or a type index (s33). */
function blockType(r: Reader): void {
  const t = r.b[r.p];
  if (t === 0x40 || (t >= 0x6a && t <= 0x7f)) r.p++;
  else if (t === 0x63 || t === 0x64) valType(r);
  else r.s();
}

/** A memarg: alignment (bit 6: a memory index follows) and offset. Returns a hash for the key. */
function memarg(r: Reader): number {
  const align = r.u();
  if (align & 0x40) r.u();
  return (align * 31 + r.u()) | 0;
}

function limits(r: Reader): void {
  const flags = r.byte();
  r.u();
  if (flags & 1) r.u();
}

/** Function imports of the module (the import section's entries of kind func). */
function countFunctionImports(r: Reader, end: number): number {
  let funcs = 0;
  const n = r.u();
  for (let i = 0; i < n && r.p < end; i++) {
    r.name();
    r.name();
    const kind = r.byte();
    if (kind === 0x00) {
      funcs++;
      r.u();
    } else if (kind === 0x01) {
      valType(r);
      limits(r);
    } else if (kind === 0x02) limits(r);
    else if (kind === 0x03) {
      valType(r);
      r.byte();
    } else if (kind === 0x04) {
      r.byte();
      r.u();
    } else throw new RangeError(`unknown import kind ${kind}`);
  }
  return funcs;
}

/**
 * Decodes one instruction at r.p (already past nothing): returns its key, or -1 for an opcode this
 * decoder does not know. The key is the opcode (with a prefix's sub-opcode) mixed with the
 * immediates that do not depend on index spaces the rewrite shifts (constants, memargs); a call
 * keeps its target, which the caller normalises.
 */
function instruction(r: Reader, callTarget: { t: number }): number {
  const op = r.byte();
  callTarget.t = -1;
  switch (op) {
    case 0x02:
    case 0x03:
    case 0x04:
    case 0x06: // try
      blockType(r);
      return op;
    case 0x07: // catch
    case 0x08: // throw
    case 0x09: // rethrow
    case 0x0c: // br
    case 0x0d: // br_if
    case 0x18: // delegate
    case 0x12: // return_call (target normalised like call)
    case 0x14: // call_ref
    case 0x15: // return_call_ref
    case 0x20:
    case 0x21:
    case 0x22:
    case 0x23:
    case 0x24:
    case 0x25:
    case 0x26:
    case 0xd2: // ref.func
    case 0xd5: // br_on_null
    case 0xd6: // br_on_non_null
      r.u();
      return op;
    case 0x10:
      callTarget.t = r.u();
      return op;
    case 0x0e: {
      const n = r.u();
      for (let i = 0; i <= n; i++) r.u();
      return op;
    }
    case 0x11: // call_indirect
    case 0x13: // return_call_indirect
      r.u();
      r.u();
      return op;
    case 0x1c: {
      const n = r.u();
      for (let i = 0; i < n; i++) valType(r);
      return op;
    }
    case 0x1f: {
      // try_table: block type, then catch clauses (kind, tag for kinds 0 and 1, label).
      blockType(r);
      const n = r.u();
      for (let i = 0; i < n; i++) {
        const kind = r.byte();
        if (kind === 0 || kind === 1) r.u();
        r.u();
      }
      return op;
    }
    case 0x3f:
    case 0x40:
      r.u();
      return op;
    case 0x41:
    case 0x42:
      return (op * 0x10001 + r.s()) | 0;
    case 0x43:
      r.skip(4);
      return op;
    case 0x44:
      r.skip(8);
      return op;
    case 0xd0:
      r.s();
      return op;
    case 0xfc:
      return fcPrefixed(r);
    case 0xfd:
      return fdPrefixed(r);
    case 0xfe: {
      const sub = r.u();
      if (sub === 0x03) r.byte();
      else memarg(r);
      return 0xfe00 + sub;
    }
    default:
      if (op >= 0x28 && op <= 0x3e) return (op * 0x10001 + memarg(r)) | 0;
      // No immediates: control (unreachable, nop, else, end, return, ...), parametric and numeric.
      if (op <= 0x01 || op === 0x05 || op === 0x0a || op === 0x0b || op === 0x0f || op === 0x19 || op === 0x1a || op === 0x1b) return op;
      if ((op >= 0x45 && op <= 0xc4) || op === 0xd1 || op === 0xd3 || op === 0xd4) return op;
      return -1;
  }
}

function fcPrefixed(r: Reader): number {
  const sub = r.u();
  switch (sub) {
    case 8: // memory.init
    case 12: // table.init
    case 14: // table.copy
      r.u();
      r.u();
      break;
    case 10: // memory.copy
      r.u();
      r.u();
      break;
    case 9:
    case 11:
    case 13:
    case 15:
    case 16:
    case 17:
      r.u();
      break;
    default:
      if (sub > 7) return -1;
  }
  return 0xfc00 + sub;
}

function fdPrefixed(r: Reader): number {
  const sub = r.u();
  if (sub <= 11 || sub === 0x5c || sub === 0x5d) memarg(r);
  else if (sub === 12 || sub === 13) r.skip(16);
  else if (sub >= 0x15 && sub <= 0x22) r.byte();
  else if (sub >= 0x54 && sub <= 0x5b) {
    memarg(r);
    r.byte();
  }
  return 0xfd000 + sub;
}

/**
 * The function bodies of a module with their instructions. A call's key includes its target passed
 * through `callKey` (so the two versions can agree on what a call calls). Throws RangeError on a
 * malformed module (the caller then maps nothing).
 */
export function moduleCode(bytes: Uint8Array, callKey: (target: number, functionImports: number) => number): ModuleCode {
  const r = new Reader(bytes, 8);
  let functionImports = 0;
  const bodies: BodyInstructions[] = [];
  const target = { t: -1 };
  while (r.p < bytes.length) {
    const id = r.byte();
    const size = r.u();
    const end = r.p + size;
    if (id === 2) functionImports = countFunctionImports(new Reader(bytes, r.p), end);
    if (id === 10) {
      const n = r.u();
      for (let i = 0; i < n; i++) {
        const bodySize = r.u();
        const start = r.p;
        const bodyEnd = start + bodySize;
        const offsets: number[] = [];
        const keys: number[] = [];
        const ops: number[] = [];
        const b = new Reader(bytes, start);
        const groups = b.u();
        for (let g = 0; g < groups; g++) {
          b.u();
          valType(b);
        }
        while (b.p < bodyEnd) {
          const at = b.p;
          let key: number;
          try {
            key = instruction(b, target);
          } catch {
            break;
          }
          if (key === -1) break; // unknown opcode: the rest of this body stays unmapped
          if (target.t >= 0) key = (OP.call * 0x10001 + callKey(target.t, functionImports)) | 0;
          offsets.push(at);
          keys.push(key);
          ops.push(bytes[at]);
        }
        bodies.push({ start, end: bodyEnd, offsets, keys, ops });
        r.p = bodyEnd;
      }
    }
    r.p = end;
  }
  return { functionImports, bodies };
}
