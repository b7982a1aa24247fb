// Shared data through proxy_get_shared_data / proxy_set_shared_data: a key-value store shared by
// every filter and instance with the same vm_id (and by every generation of them: it outlives hot
// swaps), with compare-and-swap.
//
// Every value carries a CAS number the host changes on each write. `set(key, value, cas)` with the
// cas read last succeeds only if nobody wrote in between (CasMismatch otherwise); cas 0 writes
// unconditionally. `update(key, updater)` is the read-modify-write loop around that, retried a
// bounded number of times. Envoy runs one VM per worker thread, so two workers really do race on a
// key there; on Outrigger a callback runs to its end before another starts, so the loop succeeds at
// the first try unless the callback itself writes the key in between. Write filters for Envoy's case.
//
// The ABI has no "create if absent": a key nobody wrote yet accepts any cas, so two writers that
// both saw NotFound both succeed and the second wins. It has no delete and no listing either.
import { WasmResult } from "../../abi/enums";
import { proxy_get_shared_data, proxy_set_shared_data } from "./imports";
import { RET_LEN, RET_PTR, RET_U64, clearReturnSlots, fromUtf8, takeHostBlock, toUtf8 } from "./memory";
import { Result } from "./result";

/** How many times update() retries after CasMismatch by default before giving up. */
export const DEFAULT_UPDATE_ATTEMPTS: i32 = 8;

/** A value read from shared data with the CAS number to write it back with. */
export class SharedValue {
  constructor(
    public bytes: ArrayBuffer,
    public cas: u32,
  ) {}

  /** The value decoded as UTF-8. */
  get text(): string {
    return fromUtf8(this.bytes);
  }
}

/**
 * The new value for update(): return the bytes to store, or null to leave the entry as it is
 * (update() then answers Ok with the current bytes). Subclass it and keep what next() needs in
 * fields (AssemblyScript functions cannot capture locals). next() may run more than once: after a
 * CasMismatch it sees the other writer's value, so compute from `current` only.
 */
export class SharedDataUpdater {
  next(current: ArrayBuffer | null): ArrayBuffer | null {
    return current;
  }
}

export namespace SharedData {
  /** The value and its cas; status NotFound (value null) when the key was never written. */
  export function get(key: string): Result<SharedValue | null> {
    const k = toUtf8(key);
    clearReturnSlots();
    const status = <WasmResult>proxy_get_shared_data(changetype<usize>(k), <usize>k.byteLength, RET_PTR, RET_LEN, RET_U64);
    if (status != WasmResult.Ok) return new Result<SharedValue | null>(status, null);
    const cas = load<u32>(RET_U64);
    const bytes = takeHostBlock();
    if (bytes === null) return new Result<SharedValue | null>(WasmResult.InvalidMemoryAccess, null);
    return new Result<SharedValue | null>(WasmResult.Ok, new SharedValue(bytes, cas));
  }

  /** The value as a string, or null (status NotFound) when absent. */
  export function getString(key: string): Result<string | null> {
    const r = get(key);
    const v = r.value;
    return new Result<string | null>(r.status, v !== null ? v.text : null);
  }

  /**
   * Writes `value`. With `cas` from a get(), only if the entry was not written since (CasMismatch
   * otherwise); cas 0 overwrites whatever is there. BadArgument for a value over the host's size cap
   * (1 MiB on Outrigger), InternalFailure when its key cap for the vm_id is reached.
   */
  export function set(key: string, value: ArrayBuffer, cas: u32 = 0): WasmResult {
    const k = toUtf8(key);
    return <WasmResult>proxy_set_shared_data(changetype<usize>(k), <usize>k.byteLength, changetype<usize>(value), <usize>value.byteLength, cas);
  }

  /** set() of a UTF-8 string. */
  export function setString(key: string, value: string, cas: u32 = 0): WasmResult {
    return set(key, toUtf8(value), cas);
  }

  /** Writes `value` only if the entry's cas is still `expectedCas` (as read by get()): Ok or CasMismatch. */
  export function compareAndSwap(key: string, expectedCas: u32, value: ArrayBuffer): WasmResult {
    return set(key, value, expectedCas);
  }

  let attemptsOfLastUpdate: i32 = 0;

  /** How many get/set rounds the last update() took (1 when nobody wrote in between). */
  export function lastUpdateAttempts(): i32 {
    return attemptsOfLastUpdate;
  }

  /**
   * Read-modify-write with compare-and-swap: reads the entry (null when absent), asks
   * `updater.next(current)` for the new value and writes it with the cas it read, again from a fresh
   * read after each CasMismatch, at most `maxAttempts` times. Answers Ok with the stored bytes,
   * CasMismatch when every attempt lost the race, or the host's error (value null).
   */
  export function update(key: string, updater: SharedDataUpdater, maxAttempts: i32 = DEFAULT_UPDATE_ATTEMPTS): Result<ArrayBuffer | null> {
    attemptsOfLastUpdate = 0;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      attemptsOfLastUpdate = attempt + 1;
      const r = get(key);
      let current: ArrayBuffer | null = null;
      let cas: u32 = 0;
      if (r.ok) {
        const v = changetype<SharedValue>(r.value);
        current = v.bytes;
        cas = v.cas;
      } else if (r.status != WasmResult.NotFound) {
        return new Result<ArrayBuffer | null>(r.status, null);
      }
      const next = updater.next(current);
      if (next === null) return new Result<ArrayBuffer | null>(WasmResult.Ok, current);
      const status = set(key, next, cas);
      if (status == WasmResult.Ok) return new Result<ArrayBuffer | null>(WasmResult.Ok, next);
      if (status != WasmResult.CasMismatch) return new Result<ArrayBuffer | null>(status, null);
    }
    return new Result<ArrayBuffer | null>(WasmResult.CasMismatch, null);
  }
}
