// What proxy_get_status reports: the outcome of a root context's last completed outbound call
// (proxy_http_call, gRPC call or stream), kept per root context as Envoy keeps it
// (Context::status_code_/status_message_). The code that delivers a call's outcome to the guest sets
// it just before the callback (proxy_on_http_call_response, proxy_on_grpc_close, ...):
//   HTTP call answered          -> setCallStatus(vm, root, WasmResult.Ok, '')
//   HTTP call reset / timed out -> setCallStatus(vm, root, WasmResult.BrokenConnection, 'reset')
//   gRPC close                  -> setCallStatus(vm, root, grpcStatus, grpcMessage)
// Until any call completes it reads code 0 with an empty message, as in Envoy.

import type { WasmVm } from './wasm-vm.js';

export interface CallStatus {
  code: number;
  message: Buffer;
}

const NONE: CallStatus = { code: 0, message: Buffer.alloc(0) };

/** Per instance, per root context id; weak, so a discarded instance takes its statuses with it. */
const statuses = new WeakMap<WasmVm, Map<number, CallStatus>>();

export function setCallStatus(vm: WasmVm, rootContextId: number, code: number, message: string | Buffer): void {
  let byRoot = statuses.get(vm);
  if (byRoot === undefined) statuses.set(vm, (byRoot = new Map()));
  byRoot.set(rootContextId, { code: code >>> 0, message: typeof message === 'string' ? Buffer.from(message) : message });
}

export function getCallStatus(vm: WasmVm, rootContextId: number): CallStatus {
  return statuses.get(vm)?.get(rootContextId) ?? NONE;
}
