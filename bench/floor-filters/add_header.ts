// Floor add-header: x-hello: world on the request and the response, as the example with its bench
// config does, with the same host calls and nothing else.
import { add_header, bytes } from "./host";
export * from "./null-callbacks";

const K = bytes("x-hello");
const V = bytes("world");

export function proxy_on_request_headers(id: u32, n: u32, eos: u32): u32 {
  add_header(0, K, 7, V, 5);
  return 0;
}

export function proxy_on_response_headers(id: u32, n: u32, eos: u32): u32 {
  add_header(2, K, 7, V, 5);
  return 0;
}

export function proxy_on_delete(id: u32): void {}
