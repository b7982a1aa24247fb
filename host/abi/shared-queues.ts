// proxy_register/resolve/enqueue/dequeue_shared_queue: named FIFO queues of byte strings, keyed by
// (vm_id, name) as in Envoy (cpp-host shared_queue.cc), with ids from one counter that are never 0
// and never reused. A queue outlives the instances and generations that use it: it belongs to the
// filter manager, so a hot-swapped filter (or a fresh instance after a fault) that registers the same
// name again gets the same queue with its pending items.
//
// proxy_on_queue_ready goes to the root context that registered the queue last and is still alive
// (a candidate that is rejected, or an instance that faulted, hands the queue back to the one before
// it). It is never called from inside a host call: an enqueue counts a wake and a flush on the next
// event-loop turn (setImmediate) delivers them. Envoy posts one on_queue_ready per enqueue; so do we,
// except that wakes for a queue the consumer has already drained are dropped (a consumer that reads
// everything in one callback gets one call, not one per item).

import { WasmResult } from '../../abi/enums.js';
import { SHARED_QUEUE_MAX_BYTES, SHARED_QUEUE_MAX_ITEM_BYTES, SHARED_QUEUE_MAX_ITEMS, SHARED_QUEUES_PER_VM_ID } from '../limits.js';

/** A root context that can receive proxy_on_queue_ready. */
export interface QueueReadyTarget {
  /** False once the root context is gone (its instance faulted or was released). */
  readonly live: boolean;
  /** Calls proxy_on_queue_ready(root, queueId) now; the owner handles a fault. */
  queueReady(queueId: number): void;
}

interface Queue {
  readonly id: number;
  readonly vmId: string;
  readonly name: string;
  readonly items: Buffer[];
  bytes: number;
  /** Registering roots, oldest first; the newest live one is woken. */
  targets: QueueReadyTarget[];
  /** on_queue_ready calls owed (one per enqueue not yet announced). */
  wakes: number;
  /** A full queue is logged once until it has room again. */
  reportedFull: boolean;
}

/** Why an enqueue failed, for the caller's log line (the guest sees only the WasmResult). */
export type EnqueueRefusal = { result: WasmResult; reason: 'item_too_large' | 'queue_full' | 'not_found' };

export class SharedQueues {
  readonly #byKey = new Map<string, Queue>();
  readonly #byId = new Map<number, Queue>();
  readonly #perVmId = new Map<string, number>();
  #nextId = 1;
  #flushScheduled = false;
  /** Called when a queue refuses an item because it is full (once until it drains): the owner logs it. */
  onFull: ((vmId: string, name: string, items: number, bytes: number) => void) | null = null;

  /**
   * Creates or reopens queue (vmId, name) and makes `target` the root it wakes. Returns the queue id,
   * or 0 when the vm_id already has SHARED_QUEUES_PER_VM_ID queues.
   */
  register(vmId: string, name: string, target: QueueReadyTarget): number {
    const key = queueKey(vmId, name);
    let q = this.#byKey.get(key);
    if (q === undefined) {
      const count = this.#perVmId.get(vmId) ?? 0;
      if (count >= SHARED_QUEUES_PER_VM_ID) return 0;
      this.#perVmId.set(vmId, count + 1);
      q = { id: this.#nextId++, vmId, name, items: [], bytes: 0, targets: [], wakes: 0, reportedFull: false };
      if (this.#nextId > 0xffffffff) this.#nextId = 1;
      this.#byKey.set(key, q);
      this.#byId.set(q.id, q);
    }
    q.targets = q.targets.filter((t) => t !== target && t.live);
    q.targets.push(target);
    // A root taking over a queue with items waiting (a hot swap, a fresh instance after a fault) is
    // told about them: the wakes its predecessor did not get would otherwise be lost.
    if (q.items.length > 0) {
      q.wakes = q.items.length;
      this.#scheduleFlush();
    }
    return q.id;
  }

  /** The id of queue (vmId, name), or 0 when there is none. */
  resolve(vmId: string, name: string): number {
    return this.#byKey.get(queueKey(vmId, name))?.id ?? 0;
  }

  enqueue(id: number, value: Buffer): EnqueueRefusal | null {
    const q = this.#byId.get(id);
    if (q === undefined) return { result: WasmResult.NotFound, reason: 'not_found' };
    if (value.byteLength > SHARED_QUEUE_MAX_ITEM_BYTES) return { result: WasmResult.BadArgument, reason: 'item_too_large' };
    if (q.items.length >= SHARED_QUEUE_MAX_ITEMS || q.bytes + value.byteLength > SHARED_QUEUE_MAX_BYTES) {
      if (!q.reportedFull) {
        q.reportedFull = true;
        this.onFull?.(q.vmId, q.name, q.items.length, q.bytes);
      }
      return { result: WasmResult.InternalFailure, reason: 'queue_full' };
    }
    q.items.push(value);
    q.bytes += value.byteLength;
    q.wakes++;
    this.#scheduleFlush();
    return null;
  }

  /** The oldest item, or WasmResult.Empty / NotFound. */
  dequeue(id: number): Buffer | WasmResult {
    const q = this.#byId.get(id);
    if (q === undefined) return WasmResult.NotFound;
    const item = q.items.shift();
    if (item === undefined) return WasmResult.Empty;
    q.bytes -= item.byteLength;
    if (q.reportedFull && q.items.length < SHARED_QUEUE_MAX_ITEMS / 2) q.reportedFull = false;
    return item;
  }

  /** Returns a dequeued item to the head of its queue (the guest could not receive it). */
  putBack(id: number, item: Buffer): void {
    const q = this.#byId.get(id);
    if (q === undefined) return;
    q.items.unshift(item);
    q.bytes += item.byteLength;
  }

  /** Items waiting in queue `id` (tests and /metrics), or undefined when there is none. */
  size(id: number): number | undefined {
    return this.#byId.get(id)?.items.length;
  }

  /** Every queue: for the admin API and tests. */
  list(): { id: number; vm_id: string; name: string; items: number; bytes: number }[] {
    return [...this.#byId.values()].map((q) => ({ id: q.id, vm_id: q.vmId, name: q.name, items: q.items.length, bytes: q.bytes }));
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  /**
   * Delivers the wakes owed when the turn began. Wakes added by the callbacks themselves (a consumer
   * that enqueues) wait for the next turn, so a queue ping-pong cannot starve I/O.
   */
  #flush(): void {
    this.#flushScheduled = false;
    const due: [Queue, number][] = [];
    for (const q of this.#byId.values()) if (q.wakes > 0) due.push([q, q.wakes]);
    for (const [q, owed] of due) {
      for (let n = 0; n < owed && q.wakes > 0; n++) {
        // Drained already (by this consumer or another): the remaining wakes would find nothing.
        if (q.items.length === 0) {
          q.wakes = 0;
          break;
        }
        const target = this.#target(q);
        // No live root: the items wait for the next register() of this name.
        if (target === null) {
          q.wakes = 0;
          break;
        }
        q.wakes--;
        target.queueReady(q.id);
      }
    }
  }

  #target(q: Queue): QueueReadyTarget | null {
    while (q.targets.length > 0) {
      const t = q.targets[q.targets.length - 1];
      if (t.live) return t;
      q.targets.pop();
    }
    return null;
  }
}

function queueKey(vmId: string, name: string): string {
  return `${vmId.length}:${vmId}${name}`;
}
