// How a guest ends a callback abnormally, besides a plain WebAssembly trap: AssemblyScript's
// env.abort and WASI proc_exit. Both are thrown through the guest's frames and poison the VM.

export class GuestAbort extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GuestAbort';
  }
}

export class GuestExit extends Error {
  readonly exitCode: number;
  constructor(exitCode: number) {
    super(`proc_exit(${exitCode})`);
    this.name = 'GuestExit';
    this.exitCode = exitCode;
  }
}

/**
 * A callback ran over its CPU budget (limits.cpu_ms, or limits.start_ms during start-up) and was
 * stopped by the budget check the loader instrumented into the module. Thrown from that check
 * through the guest's frames; the instance is discarded (its memory may be half-updated).
 */
export class DeadlineExceeded extends Error {
  /** The callback that was stopped, e.g. proxy_on_request_headers. */
  readonly callback: string;
  readonly budgetMs: number;
  readonly elapsedMs: number;
  constructor(callback: string, budgetMs: number, elapsedMs: number) {
    super(`${callback} ran ${elapsedMs.toFixed(0)} ms, over its ${budgetMs} ms CPU budget`);
    this.name = 'DeadlineExceeded';
    this.callback = callback;
    this.budgetMs = budgetMs;
    this.elapsedMs = elapsedMs;
  }
}

/** A short, useful description of whatever a guest call threw: message plus the top wasm frames. */
export function describeGuestError(err: unknown): string {
  if (err instanceof GuestAbort || err instanceof GuestExit || err instanceof DeadlineExceeded) return err.message;
  if (err instanceof Error) {
    const frames = (err.stack ?? '')
      .split('\n')
      .filter((l) => l.includes('wasm://') || l.includes('wasm-function'))
      .slice(0, 4)
      .map((l) =>
        l
          .trim()
          .replace(/^at /, '')
          .replace(/\s*\(wasm:\/\/[^)]*\)/, ''),
      );
    const kind = err instanceof WebAssembly.RuntimeError ? 'trap' : err.name;
    return `${kind}: ${err.message}${frames.length ? ` [${frames.join(' < ')}]` : ''}`;
  }
  return String(err);
}
