// What proxy_get_status reports: the status of the root context's last HTTP or gRPC completion, as
// Envoy keeps it on the root context (status_code_ / status_message_). The completion callbacks set
// it (grpc-calls.ts for proxy_on_grpc_close); proxy_get_status reads it. The message lives only for
// the callback that reported it (Envoy clears it after proxy_on_grpc_close); the code stays.
// Kept apart from WasmVm (a WeakMap by instance) so the callers need no field on the VM.

import { WasmResult } from '../../abi/enums.js';
import type { WasmVm } from './wasm-vm.js';

export interface CallStatus {
  code: number;
  message: string;
}

const statuses = new WeakMap<object, CallStatus>();

export function setCallStatus(vm: object, code: number, message: string): void {
  statuses.set(vm, { code, message });
}

/** Clears the message once its callback has returned (the code stays readable). */
export function clearCallStatusMessage(vm: object): void {
  const s = statuses.get(vm);
  if (s) s.message = '';
}

/** The last completion's status, or undefined when the instance has had none. */
export function callStatus(vm: object): CallStatus | undefined {
  return statuses.get(vm);
}

/**
 * proxy_get_status(→code, →msg_ptr, →msg_len), as Envoy answers it: the root context's last
 * completion (0 and "" before any). Always Ok unless an out-pointer is bad.
 */
export function callStatusHostFunctions(vm: WasmVm): Record<string, (...args: number[]) => number> {
  return {
    proxy_get_status(codeOut, msgPtrOut, msgLenOut) {
      const s = statuses.get(vm);
      if (!vm.memory.inBounds(codeOut, 4)) return WasmResult.InvalidMemoryAccess;
      const r = vm.returnBytes(Buffer.from(s?.message ?? '', 'utf8'), msgPtrOut, msgLenOut);
      if (r === WasmResult.Ok) vm.memory.writeU32(codeOut, s?.code ?? 0);
      return r;
    },
  };
}
