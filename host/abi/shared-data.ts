// proxy_get_shared_data / proxy_set_shared_data: a key-value store shared by every instance with the
// same vm_id, with compare-and-swap as cpp-host implements it (cas values from one counter, never 0).

import { WasmResult } from '../../abi/enums.js';
import { SHARED_DATA_MAX_BYTES, SHARED_DATA_MAX_KEYS, SHARED_DATA_MAX_VALUE_BYTES } from '../limits.js';

interface Store {
  entries: Map<string, { value: Buffer; cas: number }>;
  /** Key and value bytes held, against SHARED_DATA_MAX_BYTES (the store is in the proxy's heap). */
  bytes: number;
}

export class SharedData {
  readonly #stores = new Map<string, Store>();
  #nextCas = 1;

  get(vmId: string, key: string): { value: Buffer; cas: number } | undefined {
    return this.#stores.get(vmId)?.entries.get(key);
  }

  /** Bytes of keys and values held for `vmId` (for tests and the admin view). */
  bytes(vmId: string): number {
    return this.#stores.get(vmId)?.bytes ?? 0;
  }

  /** cas 0 overwrites; otherwise it must match the stored entry's (a new key always succeeds). */
  set(vmId: string, key: string, value: Buffer, cas: number): number {
    if (value.byteLength > SHARED_DATA_MAX_VALUE_BYTES) return WasmResult.BadArgument;
    let store = this.#stores.get(vmId);
    if (!store) this.#stores.set(vmId, (store = { entries: new Map(), bytes: 0 }));
    const entry = store.entries.get(key);
    if (entry && cas !== 0 && cas !== entry.cas) return WasmResult.CasMismatch;
    if (!entry && store.entries.size >= SHARED_DATA_MAX_KEYS) return WasmResult.InternalFailure;
    // Keys counted as their UTF-16 length: what the Map holds them as, near enough.
    const bytes = store.bytes - (entry ? key.length + entry.value.byteLength : 0) + key.length + value.byteLength;
    if (bytes > SHARED_DATA_MAX_BYTES) return WasmResult.InternalFailure;
    const next = this.#nextCas++;
    if (this.#nextCas > 0xffffffff) this.#nextCas = 1;
    store.entries.set(key, { value, cas: next });
    store.bytes = bytes;
    return WasmResult.Ok;
  }
}
