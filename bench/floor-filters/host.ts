// What the floor filters share besides the callbacks: the SDK's import declarations (declarations
// only: none of the SDK's code comes with them), static bytes and the out-pointer slots.
export {
  proxy_add_header_map_value as add_header,
  proxy_replace_header_map_value as replace_header,
  proxy_remove_header_map_value as remove_header,
  proxy_get_header_map_value as get_header,
  proxy_get_property as get_property,
  proxy_send_local_response as send_local_response,
} from "../../sdk/assembly/imports";

/** Static UTF-8 bytes of a string literal (allocated once, at start). */
export function bytes(s: string): usize {
  return changetype<usize>(String.UTF8.encode(s));
}

/** Two u32 slots the host writes a returned pointer and length into. */
export const RET: usize = heap.alloc(8);
