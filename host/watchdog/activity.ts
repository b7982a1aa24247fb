// What the event loop is running right now, in shared memory, so that the watchdog thread can name
// it while the loop is blocked (it cannot ask the main thread then). The guest-call path writes three
// small integers (filter, callback, request serial) per call: no allocation, no message. Names are
// resolved only by the watchdog thread, from tables sent to it when they change. Measured: the
// stores cost 10-20 ns per guest call (paired micro-benchmark, a trivial wasm export called through
// a wrapper like WasmVm.call with and without them; the same with a non-shared Int32Array).

/** Callback names by Phase, for the watchdog's line (the callback slot holds the Phase). */
export { CALLBACK_NAMES } from '../abi/callback-names.js';

/** Int32 slots of the shared array. */
export const HEARTBEAT = 0;
export const FILTER = 1;
export const CALLBACK = 2;
export const REQUEST = 3;
const SLOTS = 4;

/** Shared with the watchdog thread; one per process. */
export const activityBuffer = new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT);
/** Written by the main thread only (plain stores: the watchdog only needs a recent value, not a fence). */
export const activity = new Int32Array(activityBuffer);
activity[FILTER] = -1;
activity[REQUEST] = -1;

const filterIndex = new Map<string, number>();
const filterNames: string[] = [];
let onNewName: ((names: readonly string[]) => void) | null = null;

/** The index a filter's name is recorded under (stable for the process: names are few). */
export function filterIndexOf(name: string): number {
  let i = filterIndex.get(name);
  if (i === undefined) {
    i = filterNames.push(name) - 1;
    filterIndex.set(name, i);
    onNewName?.(filterNames);
  }
  return i;
}

/** The watchdog subscribes here to learn filter names (called with all names so far). */
export function watchFilterNames(fn: ((names: readonly string[]) => void) | null): void {
  onNewName = fn;
  fn?.(filterNames);
}

/**
 * The ids of the last REQUEST_RING requests, so that the watchdog can name the request whose serial
 * the REQUEST slot holds (ids may come from the client's x-request-id or be UUIDs, which the thread
 * cannot derive). One short latin1 copy per request, not per guest call. A slot: int32 serial, one
 * length byte, up to REQUEST_ID_BYTES id bytes.
 */
export const REQUEST_RING = 256;
const SLOT_BYTES = 64;
export const REQUEST_ID_BYTES = SLOT_BYTES - 5;
export const requestIdBuffer = new SharedArrayBuffer(REQUEST_RING * SLOT_BYTES);
const ringBytes = new Uint8Array(requestIdBuffer);
const ringInts = new Int32Array(requestIdBuffer);
/** The same bytes as a Buffer: latin1Write copies the id in one native call. */
const ringBuf = Buffer.from(requestIdBuffer) as Buffer & { latin1Write(s: string, offset: number, length: number): number };

export function recordRequestId(serial: number, id: string): void {
  const at = (serial & (REQUEST_RING - 1)) * SLOT_BYTES;
  ringInts[at >> 2] = serial;
  // One call instead of a loop of charCodeAt stores (~0.19 -> ~0.09 µs for a UUID, in-process).
  ringBytes[at + 4] = ringBuf.latin1Write(id, at + 5, REQUEST_ID_BYTES);
}

/** In the watchdog thread: the id recorded for `serial`, or null when it has left the ring. */
export function readRequestId(buffer: SharedArrayBuffer, serial: number): string | null {
  const bytes = new Uint8Array(buffer);
  const at = (serial & (REQUEST_RING - 1)) * SLOT_BYTES;
  if (new Int32Array(buffer)[at >> 2] !== serial) return null;
  return Buffer.from(bytes.subarray(at + 5, at + 5 + bytes[at + 4])).toString('latin1');
}
