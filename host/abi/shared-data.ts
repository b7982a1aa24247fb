// proxy_get_shared_data / proxy_set_shared_data: a key-value store shared by every instance with the
// same vm_id, with compare-and-swap as cpp-host implements it (cas values from one counter, never 0).

import { WasmResult } from '../../abi/enums.js';

/** Caps so a filter cannot grow the proxy's memory without bound through the store. */
const MAX_KEYS_PER_VM_ID = 10_000;
const MAX_VALUE_BYTES = 1024 * 1024;

export class SharedData {
  readonly #stores = new Map<string, Map<string, { value: Buffer; cas: number }>>();
  #nextCas = 1;

  get(vmId: string, key: string): { value: Buffer; cas: number } | undefined {
    return this.#stores.get(vmId)?.get(key);
  }

  /** cas 0 overwrites; otherwise it must match the stored entry's (a new key always succeeds). */
  set(vmId: string, key: string, value: Buffer, cas: number): number {
    if (value.byteLength > MAX_VALUE_BYTES) return WasmResult.BadArgument;
    let store = this.#stores.get(vmId);
    if (!store) this.#stores.set(vmId, (store = new Map()));
    const entry = store.get(key);
    if (entry && cas !== 0 && cas !== entry.cas) return WasmResult.CasMismatch;
    if (!entry && store.size >= MAX_KEYS_PER_VM_ID) return WasmResult.InternalFailure;
    const next = this.#nextCas++;
    if (this.#nextCas > 0xffffffff) this.#nextCas = 1;
    store.set(key, { value, cas: next });
    return WasmResult.Ok;
  }
}
