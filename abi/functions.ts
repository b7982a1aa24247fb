// The proxy-wasm ABI's function names: the version markers a module exports, the callbacks the host
// may call, and every host function (import) by ABI version. The host links all of them so that a
// module built against any SDK links; functions the host has not built yet answer Unimplemented.

export type AbiVersion = '0.1.0' | '0.2.0' | '0.2.1';

/** Export name → ABI version. A module exports exactly one of these (never called). */
export const ABI_MARKERS: Record<string, AbiVersion> = {
  proxy_abi_version_0_2_1: '0.2.1',
  proxy_abi_version_0_2_0: '0.2.0',
  proxy_abi_version_0_1_0: '0.1.0',
};

/** Host functions common to every ABI version (module "env"). */
export const HOST_FUNCTIONS_COMMON = [
  'proxy_log',
  'proxy_get_current_time_nanoseconds',
  'proxy_set_tick_period_milliseconds',
  'proxy_get_buffer_bytes',
  'proxy_get_buffer_status',
  'proxy_set_buffer_bytes',
  'proxy_get_header_map_size',
  'proxy_get_header_map_pairs',
  'proxy_set_header_map_pairs',
  'proxy_get_header_map_value',
  'proxy_add_header_map_value',
  'proxy_replace_header_map_value',
  'proxy_remove_header_map_value',
  'proxy_get_property',
  'proxy_set_property',
  'proxy_send_local_response',
  'proxy_get_status',
  'proxy_http_call',
  'proxy_grpc_call',
  'proxy_grpc_stream',
  'proxy_grpc_send',
  'proxy_grpc_cancel',
  'proxy_grpc_close',
  'proxy_get_shared_data',
  'proxy_set_shared_data',
  'proxy_register_shared_queue',
  'proxy_resolve_shared_queue',
  'proxy_enqueue_shared_queue',
  'proxy_dequeue_shared_queue',
  'proxy_define_metric',
  'proxy_increment_metric',
  'proxy_record_metric',
  'proxy_get_metric',
  'proxy_set_effective_context',
  'proxy_done',
  'proxy_call_foreign_function',
] as const;

/** Host functions only a 0.1.0 module may import. */
export const HOST_FUNCTIONS_0_1_0 = ['proxy_get_configuration', 'proxy_continue_request', 'proxy_continue_response', 'proxy_clear_route_cache'] as const;

/** Host functions added in 0.2.0 (and kept in 0.2.1). */
export const HOST_FUNCTIONS_0_2_0 = ['proxy_continue_stream', 'proxy_close_stream'] as const;

/** Host functions added in 0.2.1. */
export const HOST_FUNCTIONS_0_2_1 = ['proxy_get_log_level'] as const;

/** WASI modules a guest may import from; both names get the same functions, as cpp-host does. */
export const WASI_MODULES = ['wasi_snapshot_preview1', 'wasi_unstable'] as const;
