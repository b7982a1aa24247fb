// Every error Outrigger reports to a user has a stable code and says what to do about it.

export type ErrorCode =
  | 'OUTRIGGER_CONFIG_READ'
  | 'OUTRIGGER_CONFIG_YAML'
  | 'OUTRIGGER_CONFIG_INVALID'
  | 'OUTRIGGER_FILTER_FILE'
  | 'OUTRIGGER_WASM_COMPILE'
  | 'OUTRIGGER_WASM_NO_ABI'
  | 'OUTRIGGER_WASM_LINK'
  | 'OUTRIGGER_WASM_NO_ALLOCATOR'
  | 'OUTRIGGER_WASM_START'
  | 'OUTRIGGER_WASM_MEMORY_OVER_CAP'
  | 'OUTRIGGER_FILTER_DEADLINE'
  | 'OUTRIGGER_FILTER_VM_START'
  | 'OUTRIGGER_FILTER_CONFIGURE'
  | 'OUTRIGGER_LISTEN'
  | 'OUTRIGGER_USAGE';

export class OutriggerError extends Error {
  readonly code: ErrorCode;
  /** What the user can do about it. */
  readonly hint: string;

  constructor(code: ErrorCode, message: string, hint = '', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OutriggerError';
    this.code = code;
    this.hint = hint;
  }

  /** One line for a terminal or a log: "CODE: message (hint)". */
  describe(): string {
    return `${this.code}: ${this.message}${this.hint ? `\n  hint: ${this.hint}` : ''}`;
  }
}
