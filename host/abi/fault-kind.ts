// Which FaultKind a guest error is: what /filters, the log and /metrics count it as.

import type { FaultKind } from '../chain/filter-instance.js';
import { DeadlineExceeded, GuestAbort, GuestExit } from './guest-errors.js';

/**
 * `lastErrorLog`: the last CRITICAL/ERROR line the guest logged. The SDK routes AssemblyScript's
 * abort through a CRITICAL "abort: ..." line and proc_exit(255) (sdk/assembly/abort.ts): that is an
 * abort (a trap), not the guest choosing to exit. `memoryAtCap`: the instance's linear memory had
 * reached its cap (limits.memory_mb), so a trap or abort there is the allocator failing.
 */
export function faultKind(err: unknown, lastErrorLog: string, memoryAtCap: boolean): FaultKind {
  if (err instanceof DeadlineExceeded) return 'deadline';
  if ((err as { faultKind?: unknown } | null)?.faultKind === 'memory') return 'memory';
  if (memoryAtCap) return 'memory';
  if (err instanceof GuestExit) return err.exitCode === 255 && lastErrorLog.startsWith('abort:') ? 'trap' : 'exit';
  if (err instanceof GuestAbort) return 'trap';
  return 'trap';
}
