// Shared queues: named FIFO queues of byte strings shared by every filter and service with the same
// vm_id (another vm_id's queue by resolving it with that vm_id). The root context that registers a
// queue receives proxy_on_queue_ready (RootContext.onQueueReady) after items are enqueued; anyone
// who knows the id can enqueue and dequeue. Errors are values: ids are 0 on failure with the reason
// in a Result, dequeue gives null for an empty queue.
import { WasmResult } from "../../abi/enums";
import { RET_LEN, RET_PTR, clearReturnSlots, fromUtf8, takeHostBlock, toUtf8 } from "./memory";
import { Result } from "./result";

// Declared here rather than in imports.ts so the imports exist only in modules that use queues.
// @ts-ignore: decorator
@external("env", "proxy_register_shared_queue")
declare function proxy_register_shared_queue(namePtr: usize, nameLen: usize, retId: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_resolve_shared_queue")
declare function proxy_resolve_shared_queue(vmIdPtr: usize, vmIdLen: usize, namePtr: usize, nameLen: usize, retId: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_enqueue_shared_queue")
declare function proxy_enqueue_shared_queue(queueId: u32, valuePtr: usize, valueLen: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_dequeue_shared_queue")
declare function proxy_dequeue_shared_queue(queueId: u32, retPtr: usize, retLen: usize): u32;

/**
 * Creates (or reopens, keeping its items) queue `name` of this vm_id and makes the calling root
 * context the one woken by onQueueReady. Call it from onConfigure (or onVmStart). Result.value is
 * the queue id (0 unless ok).
 */
export function registerSharedQueue(name: string): Result<u32> {
  const n = toUtf8(name);
  clearReturnSlots();
  const status = <WasmResult>proxy_register_shared_queue(changetype<usize>(n), <usize>n.byteLength, RET_LEN);
  return new Result<u32>(status, status == WasmResult.Ok ? load<u32>(RET_LEN) : 0);
}

/**
 * The id of queue `name` registered under `vmId` ("" for this filter's own vm_id). NotFound until
 * its owner has registered it.
 */
export function resolveSharedQueue(name: string, vmId: string = ""): Result<u32> {
  const v = toUtf8(vmId);
  const n = toUtf8(name);
  clearReturnSlots();
  const status = <WasmResult>proxy_resolve_shared_queue(
    changetype<usize>(v), <usize>v.byteLength, changetype<usize>(n), <usize>n.byteLength, RET_LEN);
  return new Result<u32>(status, status == WasmResult.Ok ? load<u32>(RET_LEN) : 0);
}

/**
 * Appends an item. NotFound for an unknown id; BadArgument for an item over the host's item cap;
 * InternalFailure when the queue is full (Outrigger: 10 000 items or 64 MiB).
 */
export function enqueueSharedQueue(queueId: u32, data: ArrayBuffer): WasmResult {
  return <WasmResult>proxy_enqueue_shared_queue(queueId, changetype<usize>(data), <usize>data.byteLength);
}

/** enqueueSharedQueue with a string (UTF-8). */
export function enqueueSharedQueueString(queueId: u32, data: string): WasmResult {
  return enqueueSharedQueue(queueId, toUtf8(data));
}

let lastDequeueStatus: WasmResult = WasmResult.Ok;

/** The oldest item, or null: the queue is empty (lastDequeueStatus() is Empty) or unknown (NotFound). */
export function dequeueSharedQueue(queueId: u32): ArrayBuffer | null {
  clearReturnSlots();
  const status = <WasmResult>proxy_dequeue_shared_queue(queueId, RET_PTR, RET_LEN);
  lastDequeueStatus = status;
  if (status != WasmResult.Ok) return null;
  const bytes = takeHostBlock();
  if (bytes === null) lastDequeueStatus = WasmResult.InvalidMemoryAccess;
  return bytes;
}

/** dequeueSharedQueue as a UTF-8 string, or null. */
export function dequeueSharedQueueString(queueId: u32): string | null {
  const bytes = dequeueSharedQueue(queueId);
  return bytes !== null ? fromUtf8(bytes) : null;
}

/** Why the last dequeueSharedQueue gave null (Empty, NotFound, ...), or Ok. */
export function lastDequeueResult(): WasmResult {
  return lastDequeueStatus;
}
