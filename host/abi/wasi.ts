// The WASI preview1 subset a proxy-wasm guest may need, as cpp-host provides it: stdout/stderr to the
// filter's log, clocks, randomness, empty args and environment, a fatal proc_exit. The rest answers
// ENOSYS so runtimes that import it (Go, TinyGo) still link.

import { randomFillSync } from 'node:crypto';
import { MAX_RANDOM_GET_BYTES } from '../limits.js';
import { GuestExit } from './guest-errors.js';
import type { WasmVm } from './wasm-vm.js';

const ESUCCESS = 0;
const EBADF = 8;
const EFAULT = 21;
const EINVAL = 28;
const ENOSYS = 52;
const ENOTSUP = 58;

type WasiFn = (...args: (number | bigint)[]) => number | undefined;

export function wasiFunctions(vm: WasmVm): Record<string, WasiFn> {
  const mem = vm.memory;
  const log = vm.spec.logger;
  const zeroes = (a: number, b: number): number => (mem.writeU32(a, 0) && mem.writeU32(b, 0) ? ESUCCESS : EFAULT);

  return {
    fd_write(fd, iovs, iovsLen, nwrittenOut) {
      if (fd !== 1 && fd !== 2) return EBADF;
      const parts: string[] = [];
      let total = 0;
      for (let i = 0; i < (iovsLen as number); i++) {
        const base = (iovs as number) + i * 8;
        const ptr = mem.readU32(base);
        const len = mem.readU32(base + 4);
        if (ptr === null || len === null) return EFAULT;
        const s = mem.string(ptr, len);
        if (s === null) return EFAULT;
        parts.push(s);
        total += len;
      }
      if (!mem.writeU32(nwrittenOut as number, total)) return EFAULT;
      const text = parts.join('').replace(/\n$/, '');
      if (text) {
        if (fd === 1) log.info({ fd: 'stdout' }, text);
        else log.error({ fd: 'stderr' }, text);
      }
      return ESUCCESS;
    },
    proc_exit(code) {
      throw new GuestExit(code as number);
    },
    clock_time_get(id, _precision, out) {
      let ns: bigint;
      if (id === 0) ns = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
      else if (id === 1) ns = process.hrtime.bigint();
      else return ENOTSUP;
      return mem.writeU64(out as number, ns) ? ESUCCESS : EFAULT;
    },
    clock_res_get(id, out) {
      if (id !== 0 && id !== 1) return ENOTSUP;
      return mem.writeU64(out as number, 1000n) ? ESUCCESS : EFAULT;
    },
    random_get(ptr, len) {
      if ((len as number) >>> 0 > MAX_RANDOM_GET_BYTES) return EINVAL;
      const view = mem.view(ptr as number, len as number);
      if (view === null) return EFAULT;
      randomFillSync(view);
      return ESUCCESS;
    },
    environ_sizes_get: (countOut, sizeOut) => zeroes(countOut as number, sizeOut as number),
    environ_get: () => ESUCCESS,
    args_sizes_get: (countOut, sizeOut) => zeroes(countOut as number, sizeOut as number),
    args_get: () => ESUCCESS,
    sched_yield: () => ESUCCESS,
    poll_oneoff(_in, _out, _n, neventsOut) {
      return mem.writeU32(neventsOut as number, 0) ? ESUCCESS : EFAULT;
    },
    fd_close: () => EBADF,
    fd_seek: () => EBADF,
    fd_read: () => EBADF,
    fd_fdstat_get: () => EBADF,
    fd_prestat_get: () => EBADF,
    fd_prestat_dir_name: () => EBADF,
  };
}

/** Any WASI function not listed above. */
export const wasiUnsupported = (): number => ENOSYS;
