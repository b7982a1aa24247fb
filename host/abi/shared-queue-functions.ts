// The shared-queue host functions (module "env"), answered as Envoy does (cpp-host exports.cc):
// queues are scoped by vm_id; registering makes the caller's root context the one that receives
// proxy_on_queue_ready. The registry, its caps and the wake rules are in shared-queues.ts.

import { WasmResult } from '../../abi/enums.js';
import type { WasmVm } from './wasm-vm.js';

type HostFn = (...args: number[]) => number;

export function sharedQueueFunctions(vm: WasmVm): Record<string, HostFn> {
  const mem = vm.memory;
  return {
    proxy_register_shared_queue(np, nl, idOut) {
      const name = mem.string(np, nl);
      if (name === null || !mem.inBounds(idOut, 4)) return WasmResult.InvalidMemoryAccess;
      // A stream context registering still names its root: ticks and queue wakes go to roots.
      const id = vm.spec.sharedQueues.register(vm.spec.vmId, name, vm.queueTarget());
      if (id === 0) return WasmResult.InternalFailure;
      mem.writeU32(idOut, id);
      return WasmResult.Ok;
    },

    proxy_resolve_shared_queue(vp, vl, np, nl, idOut) {
      const vmId = mem.string(vp, vl);
      const name = mem.string(np, nl);
      if (vmId === null || name === null || !mem.inBounds(idOut, 4)) return WasmResult.InvalidMemoryAccess;
      // An empty vm_id means the caller's own (cpp-host: `vm_id.empty() ? this vm's id`).
      const id = vm.spec.sharedQueues.resolve(vmId === '' ? vm.spec.vmId : vmId, name);
      if (id === 0) return WasmResult.NotFound;
      mem.writeU32(idOut, id);
      return WasmResult.Ok;
    },

    proxy_enqueue_shared_queue(id, vp, vl) {
      const value = mem.copy(vp, vl);
      if (value === null) return WasmResult.InvalidMemoryAccess;
      const refused = vm.spec.sharedQueues.enqueue(id >>> 0, value);
      return refused === null ? WasmResult.Ok : refused.result;
    },

    proxy_dequeue_shared_queue(id, ptrOut, lenOut) {
      if (!mem.inBounds(ptrOut, 4) || !mem.inBounds(lenOut, 4)) return WasmResult.InvalidMemoryAccess;
      const item = vm.spec.sharedQueues.dequeue(id >>> 0);
      if (typeof item === 'number') return item;
      const r = vm.returnBytes(item, ptrOut, lenOut);
      // The guest could not take it (its allocator failed): the item goes back, nothing is lost.
      if (r !== WasmResult.Ok) vm.spec.sharedQueues.putBack(id >>> 0, item);
      return r;
    },
  };
}
