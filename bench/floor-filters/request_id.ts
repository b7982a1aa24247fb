// Floor request-id: the example's host calls on Outrigger (the request.id property, set as
// x-request-id on the request, echoed on the response), the id kept in a table by context slot.
import { RET, bytes, get_property, replace_header } from "./host";
export * from "./null-callbacks";

const K = bytes("x-request-id");
const P = bytes("request.id");
const SLOTS = 4096; // Outrigger's context ids are generation × 2^20 + slot: fine up to 4096 in flight
const ptrs = new StaticArray<usize>(SLOTS);
const lens = new StaticArray<usize>(SLOTS);

export function proxy_on_request_headers(id: u32, n: u32, eos: u32): u32 {
  store<u64>(RET, 0);
  get_property(P, 10, RET, RET + 4);
  const p = load<u32>(RET) as usize;
  const l = load<u32>(RET + 4) as usize;
  replace_header(0, K, 12, p, l);
  unchecked((ptrs[id & (SLOTS - 1)] = p));
  unchecked((lens[id & (SLOTS - 1)] = l));
  return 0;
}

export function proxy_on_response_headers(id: u32, n: u32, eos: u32): u32 {
  replace_header(2, K, 12, unchecked(ptrs[id & (SLOTS - 1)]), unchecked(lens[id & (SLOTS - 1)]));
  return 0;
}

export function proxy_on_delete(id: u32): void {
  const p = unchecked(ptrs[id & (SLOTS - 1)]);
  if (p) heap.free(p);
  unchecked((ptrs[id & (SLOTS - 1)] = 0));
}
