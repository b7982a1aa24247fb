// Floor api-key-auth: get x-api-key, compare it with the one key, remove it (401 without it,
// 403 with another), with the same host calls as the example and no allocation.
import { RET, bytes, get_header, remove_header, send_local_response } from "./host";
export * from "./null-callbacks";

const K = bytes("x-api-key");
const GOOD = bytes("bench-key");
const DENIED = bytes("denied\n");

export function proxy_on_request_headers(id: u32, n: u32, eos: u32): u32 {
  store<u64>(RET, 0);
  get_header(0, K, 9, RET, RET + 4);
  const p = load<u32>(RET) as usize;
  const l = load<u32>(RET + 4) as usize;
  const ok = l == 9 && memory.compare(p, GOOD, 9) == 0;
  if (p) heap.free(p);
  if (!ok) {
    send_local_response(l == 0 ? 401 : 403, 0, 0, DENIED, 7, 0, 0, -1);
    return 1;
  }
  remove_header(0, K, 9);
  return 0;
}

export function proxy_on_response_headers(id: u32, n: u32, eos: u32): u32 {
  return 0;
}

export function proxy_on_delete(id: u32): void {}
