// The garbage collector of Outrigger filters. It takes the place of AssemblyScript's minimal-runtime
// collector (~lib/rt/tcms) when a filter is built with the SDK's transform (sdk/transform/), and is
// compiled as that module: same design, same exported runtime functions, plus free lists and a
// size report (__outrigger_heap_bytes, for the SDK's collection policy).
//
// Design (as AssemblyScript's): a two-colour mark & sweep that runs only when asked (__collect,
// called by sdk/assembly/collector.ts between callbacks). Every managed object sits in one of three
// doubly linked lists: `fromSpace` (not yet reached), `toSpace` (reached) and `pinSpace` (pinned);
// a collection moves reached objects from one list to the other and frees what is left behind.
//
// The free lists: dead small objects are not handed back to the TLSF allocator but kept in free
// lists, one per 16-byte size class, and reused by the next allocations of that class. A filter
// allocates the same few shapes on every request (its context object, the bytes the host returns),
// and a TLSF allocation plus its later free touch a dozen scattered cache lines (bitmaps, list
// heads, both neighbours for coalescing) where a free-list pop and push touch two. Under load,
// with the caches cold between requests, that was ~0.2 µs per object.
import { BLOCK, BLOCK_OVERHEAD, OBJECT_OVERHEAD, OBJECT_MAXSIZE, TOTAL_OVERHEAD, DEBUG } from "./common";
import { E_ALLOCATION_TOO_LARGE, E_ALREADY_PINNED, E_NOT_PINNED } from "../util/error";

// @ts-ignore: decorator
@lazy let white = 0;
// @ts-ignore: decorator
@inline const TRANSPARENT = 3;
// @ts-ignore: decorator
@inline const COLOR_MASK = 3;

/** Bytes of every managed object alive (or not yet collected), as tcms counts them. */
// @ts-ignore: decorator
@lazy let total: usize = 0;

// Size classes: class k holds blocks whose payload is 16·k − BLOCK_OVERHEAD bytes (TLSF sizes all
// blocks that way), for k below CLASSES: objects up to 252 bytes including their header.
// @ts-ignore: decorator
@inline const CLASSES: usize = 17;
/** Most bytes kept in the free lists; beyond it dead objects go back to TLSF. */
// @ts-ignore: decorator
@inline const CACHE_BUDGET: usize = 256 * 1024;
/** Heads of the free lists (linked through the object header's first word). */
// @ts-ignore: decorator
@lazy const freeHeads: usize = memory.data(<i32>(CLASSES * sizeof<usize>()), <i32>sizeof<usize>());
// @ts-ignore: decorator
@lazy let cachedBytes: usize = 0;

/** Size class of a block of this payload size (payload + header is a multiple of 16). */
// @ts-ignore: decorator
@inline function classOf(payload: usize): usize {
  return (payload + BLOCK_OVERHEAD) >> 4;
}

/** Smallest class whose blocks hold `payload` bytes. */
// @ts-ignore: decorator
@inline function classFor(payload: usize): usize {
  return (payload + BLOCK_OVERHEAD + 15) >> 4;
}

// @ts-ignore: decorator
@lazy let fromSpace = initList(changetype<Object>(memory.data(offsetof<Object>())));
// @ts-ignore: decorator
@lazy let toSpace = initList(changetype<Object>(memory.data(offsetof<Object>())));
// @ts-ignore: decorator
@lazy let pinSpace = initList(changetype<Object>(memory.data(offsetof<Object>())));

function initList(head: Object): Object {
  head.nextWithColor = changetype<usize>(head);
  head.prev = head;
  return head;
}

// @ts-ignore: decorator
@unmanaged class Object extends BLOCK {
  /** Next object in its list, with the colour in the two low bits. */
  nextWithColor: usize;
  prev: Object;
  rtId: u32;
  rtSize: u32;

  get next(): Object {
    return changetype<Object>(this.nextWithColor & ~COLOR_MASK);
  }

  set next(obj: Object) {
    this.nextWithColor = changetype<usize>(obj) | (this.nextWithColor & COLOR_MASK);
  }

  get color(): i32 {
    return i32(this.nextWithColor & COLOR_MASK);
  }

  /** Block size including the memory manager's header. */
  get size(): usize {
    return BLOCK_OVERHEAD + (this.mmInfo & ~3);
  }

  unlink(): void {
    const next = this.next;
    if (next == null) return; // static data, never linked
    const prev = this.prev;
    next.prev = prev;
    prev.next = next;
  }

  linkTo(list: Object, color: i32): void {
    const prev = list.prev;
    this.nextWithColor = changetype<usize>(list) | color;
    this.prev = prev;
    prev.next = this;
    list.prev = this;
  }
}

/**
 * Bytes held by managed objects, live or not yet collected (right after a collection: the live
 * ones). The SDK's collection policy (sdk/assembly/collector.ts) reads it.
 */
// @ts-ignore: decorator
@global @unsafe
export function __outrigger_heap_bytes(): usize {
  return total;
}

// @ts-ignore: decorator
@global @unsafe
export function __new(size: usize, id: i32): usize {
  if (size > OBJECT_MAXSIZE) throw new Error(E_ALLOCATION_TOO_LARGE);
  const payload = OBJECT_OVERHEAD + size;
  const k = classFor(payload);
  let obj: Object;
  if (k < CLASSES) {
    const slot = freeHeads + (k << alignof<usize>());
    const head = load<usize>(slot);
    if (head != 0) {
      obj = changetype<Object>(head);
      store<usize>(slot, obj.nextWithColor);
      cachedBytes -= obj.size;
    } else {
      // Sized to its class, so that once dead it serves any request of the class.
      obj = changetype<Object>(__alloc((k << 4) - BLOCK_OVERHEAD) - BLOCK_OVERHEAD);
    }
  } else {
    obj = changetype<Object>(__alloc(payload) - BLOCK_OVERHEAD);
  }
  obj.rtId = id;
  obj.rtSize = <u32>size;
  obj.linkTo(fromSpace, white);
  total += obj.size;
  return changetype<usize>(obj) + TOTAL_OVERHEAD;
}

// @ts-ignore: decorator
@global @unsafe
export function __renew(oldPtr: usize, size: usize): usize {
  const oldObj = changetype<Object>(oldPtr - TOTAL_OVERHEAD);
  if (oldPtr < __heap_base) {
    // Static data moves to the heap.
    const newPtr = __new(size, oldObj.rtId);
    memory.copy(newPtr, oldPtr, min(size, oldObj.rtSize));
    return newPtr;
  }
  if (size > OBJECT_MAXSIZE) throw new Error(E_ALLOCATION_TOO_LARGE);
  total -= oldObj.size;
  const newPtr = __realloc(oldPtr - OBJECT_OVERHEAD, OBJECT_OVERHEAD + size) + OBJECT_OVERHEAD;
  const newObj = changetype<Object>(newPtr - TOTAL_OVERHEAD);
  newObj.rtSize = <u32>size;
  // It may have moved: its neighbours in the list point at the new place.
  newObj.next.prev = newObj;
  newObj.prev.next = newObj;
  total += newObj.size;
  return newPtr;
}

// @ts-ignore: decorator
@global @unsafe
export function __link(parentPtr: usize, childPtr: usize, expectMultiple: bool): void {
  // No write barrier: collections never run concurrently with the program.
}

// @ts-ignore: decorator
@global @unsafe
export function __visit(ptr: usize, cookie: i32): void {
  if (!ptr) return;
  const obj = changetype<Object>(ptr - TOTAL_OVERHEAD);
  if (obj.color == white) {
    obj.unlink();
    obj.linkTo(toSpace, i32(!white));
  }
}

// @ts-ignore: decorator
@global @unsafe
export function __pin(ptr: usize): usize {
  if (ptr) {
    const obj = changetype<Object>(ptr - TOTAL_OVERHEAD);
    if (obj.color == TRANSPARENT) throw new Error(E_ALREADY_PINNED);
    obj.unlink();
    obj.linkTo(pinSpace, TRANSPARENT);
  }
  return ptr;
}

// @ts-ignore: decorator
@global @unsafe
export function __unpin(ptr: usize): void {
  if (!ptr) return;
  const obj = changetype<Object>(ptr - TOTAL_OVERHEAD);
  if (obj.color != TRANSPARENT) throw new Error(E_NOT_PINNED);
  obj.unlink();
  obj.linkTo(fromSpace, white);
}

/** A dead object's block: into its class's free list while the budget allows, else back to TLSF. */
function release(obj: Object): void {
  const payload = obj.mmInfo & ~3;
  const k = classOf(payload);
  if (k < CLASSES && cachedBytes + BLOCK_OVERHEAD + payload <= CACHE_BUDGET) {
    const slot = freeHeads + (k << alignof<usize>());
    obj.nextWithColor = load<usize>(slot);
    store<usize>(slot, changetype<usize>(obj));
    cachedBytes += BLOCK_OVERHEAD + payload;
    return;
  }
  __free(changetype<usize>(obj) + BLOCK_OVERHEAD);
}

// @ts-ignore: decorator
@global @unsafe
export function __collect(): void {
  __visit_globals(0);

  // Pinned objects are roots.
  let iter = pinSpace.next;
  while (iter != pinSpace) {
    __visit_members(changetype<usize>(iter) + TOTAL_OVERHEAD, 0);
    iter = iter.next;
  }

  // Scan what has been reached; visiting appends newly reached objects to the same list.
  const black = i32(!white);
  const to = toSpace;
  iter = to.next;
  while (iter != to) {
    if (DEBUG) assert(iter.color == black);
    __visit_members(changetype<usize>(iter) + TOTAL_OVERHEAD, 0);
    iter = iter.next;
  }

  // Whatever is still in fromSpace is garbage.
  const from = fromSpace;
  iter = from.next;
  while (iter != from) {
    const next = iter.next;
    if (changetype<usize>(iter) < __heap_base) {
      iter.nextWithColor = 0; // static data: may be linked again
      iter.prev = changetype<Object>(0);
    } else {
      total -= iter.size;
      if (isDefined(__finalize)) __finalize(changetype<usize>(iter) + TOTAL_OVERHEAD);
      release(iter);
    }
    iter = next;
  }
  from.nextWithColor = changetype<usize>(from);
  from.prev = from;

  fromSpace = to;
  toSpace = from;
  white = black;
}
