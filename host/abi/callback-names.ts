// The guest export each Phase (host/abi/wasm-vm.ts) runs, indexed by the Phase's value: one table for
// the deadline's log line, `debug: true` diagnostics and the watchdog thread (which must not import the
// VM, so this file imports nothing). Phase is a const enum, gone at run time. Keep the order of Phase.
export const CALLBACK_NAMES = [
  'none',
  '_initialize',
  'proxy_on_vm_start',
  'proxy_on_configure',
  'proxy_on_context_create',
  'proxy_on_request_headers',
  'proxy_on_request_body',
  'proxy_on_response_headers',
  'proxy_on_response_body',
  'proxy_on_log',
  'proxy_on_done',
  'proxy_on_delete',
  'proxy_on_tick',
  'proxy_on_queue_ready',
  'proxy_on_grpc_receive_initial_metadata',
  'proxy_on_grpc_receive',
  'proxy_on_grpc_receive_trailing_metadata',
  'proxy_on_grpc_close',
  'proxy_on_http_call_response',
  'proxy_on_request_trailers',
  'proxy_on_response_trailers',
] as const;
