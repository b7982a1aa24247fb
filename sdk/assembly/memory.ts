// Memory hand-off between host and guest (proxy-wasm ABI §4.3).
//
// When the host returns bytes (a header value, a body, a property), it calls the exported `malloc`
// with exactly the byte length, copies the bytes in and writes (ptr, len) to two out-pointers.
// `malloc` allocates a managed ArrayBuffer of exactly `size` bytes and pins it so the GC leaves it
// alone until the SDK takes it over with `takeHostBlock`, which unpins it. The host never frees guest
// memory. A result of length 0 comes with ptr 0 and is never read.

/** Largest block `malloc` hands out (AssemblyScript's BLOCK_MAXSIZE is 1 GiB minus the header). */
const MAX_ALLOCATION: usize = (1 << 30) - 16;

/**
 * The allocator export the host calls (cpp-host looks for `malloc` first). Returns 0 when the size
 * cannot be allocated, which the host reports as InvalidMemoryAccess.
 */
export function malloc(size: usize): usize {
  if (size > MAX_ALLOCATION) return 0;
  const ptr = changetype<usize>(new ArrayBuffer(<i32>size));
  // @ts-ignore: runtime builtin
  __pin(ptr);
  return ptr;
}

// Out-pointer slots for host calls: static memory, outside the GC heap. Host calls are never
// concurrent, and every helper reads its slots right after the call returns.
const SCRATCH: usize = memory.data(16, 8);
/** u32 slot the host writes a returned pointer into. */
export const RET_PTR: usize = SCRATCH;
/** u32 slot the host writes a returned length (or a scalar such as a log level) into. */
export const RET_LEN: usize = SCRATCH + 4;
/** u64 slot (8-byte aligned) for the current time. */
export const RET_U64: usize = SCRATCH + 8;

/** Zeroes the out-pointer slots before a host call, so a host that writes nothing reads as empty. */
export function clearReturnSlots(): void {
  store<u64>(SCRATCH, 0);
  store<u64>(SCRATCH + 8, 0);
}

/**
 * Takes ownership of a block the host returned through RET_PTR/RET_LEN. Length 0 gives an empty
 * buffer without touching the pointer. The block is one our `malloc` handed out: it is wrapped
 * (no copy) when its size matches and unpinned either way. Returns null for a non-empty result
 * with a null pointer (a broken host).
 */
export function takeHostBlock(): ArrayBuffer | null {
  const ptr = <usize>load<u32>(RET_PTR);
  const len = <usize>load<u32>(RET_LEN);
  if (len == 0) return new ArrayBuffer(0); // ptr is 0 (or meaningless): never read it
  if (ptr == 0) return null;
  const block = changetype<ArrayBuffer>(ptr);
  let result = block;
  if (<usize>block.byteLength != len) {
    // Not the exact size we allocated: copy what the host says is valid (never past the block).
    const n = min(len, <usize>block.byteLength);
    result = new ArrayBuffer(<i32>n);
    memory.copy(changetype<usize>(result), ptr, n);
  }
  // @ts-ignore: runtime builtin
  __unpin(ptr);
  return result;
}

/** UTF-8 bytes of a string (no terminator). */
export function toUtf8(str: string): ArrayBuffer {
  return String.UTF8.encode(str, false);
}

// Filters pass the same strings on every request (literals, names and values read from config):
// remembering the last few encodings by string identity saves an allocation and an encode per host
// call. Strings are immutable and the cache holds them, so an identical pointer means identical text.
const CACHE_BITS = 4;
const CACHE_SIZE = 1 << CACHE_BITS;
const cachedStrings = new StaticArray<usize>(CACHE_SIZE);
const cachedKeep = new StaticArray<string | null>(CACHE_SIZE);
const cachedBytes = new StaticArray<ArrayBuffer | null>(CACHE_SIZE);

/**
 * UTF-8 bytes of a string for passing to the host, from a small identity cache (direct-mapped by
 * a hash of the string's address: one compare on a hit). The result is shared: read it, never modify it.
 */
export function utf8ForHost(str: string): ArrayBuffer {
  const key = changetype<usize>(str);
  // Objects are 16-byte aligned, so a slot taken from the low address bits would put strings a
  // multiple of 256 bytes apart in one slot: a multiplicative hash mixes every bit in.
  const slot = <i32>((<u32>key * 0x9e3779b1) >>> (32 - CACHE_BITS));
  if (unchecked(cachedStrings[slot]) == key) return changetype<ArrayBuffer>(unchecked(cachedBytes[slot]));
  const bytes = String.UTF8.encode(str, false);
  if (bytes.byteLength <= 256) {
    unchecked((cachedStrings[slot] = key));
    // Kept alive so its address cannot be reused by another string while cached.
    unchecked((cachedKeep[slot] = str));
    unchecked((cachedBytes[slot] = bytes));
  }
  return bytes;
}

/** Decodes UTF-8 bytes into a string. */
export function fromUtf8(buf: ArrayBuffer): string {
  return String.UTF8.decode(buf, false);
}

/** Pointer of a buffer's data, for host calls. */
// @ts-ignore: decorator
@inline export function ptrOf(buf: ArrayBuffer): usize {
  return changetype<usize>(buf);
}

/** Byte length of a buffer, as a usize, for host calls. */
// @ts-ignore: decorator
@inline export function lenOf(buf: ArrayBuffer): usize {
  return <usize>buf.byteLength;
}
