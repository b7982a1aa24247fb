// Reads and validates an Outrigger YAML config. Every problem is reported with the file, the line,
// the key and what was expected, all at once, so one edit fixes them all.

import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, isMap, parseDocument, type Document } from 'yaml';
import type { BreakerConfig } from '../abi/crash-breaker.js';
import type { FailurePolicy } from '../chain/filter-instance.js';
import { OutriggerError } from '../errors.js';
import {
  DEFAULT_CLIENT_BODY_TIMEOUT_MS,
  DEFAULT_CLIENT_HEADER_TIMEOUT_MS,
  DEFAULT_BREAKER_BACKOFF_MS,
  DEFAULT_BREAKER_MAX_BACKOFF_MS,
  DEFAULT_BREAKER_MAX_FAULTS,
  DEFAULT_BREAKER_WINDOW_MS,
  DEFAULT_CALLBACK_TIMING_SAMPLE,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_CPU_MS,
  DEFAULT_MEMORY_MB,
  DEFAULT_START_MS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_FILTER_HOLD_TIMEOUT_MS,
  DEFAULT_MAX_BUFFERED_BODY_BYTES,
  DEFAULT_KEEPALIVE_TIMEOUT_MS,
  DEFAULT_UPSTREAM_MAX_CONNECTIONS,
  DEFAULT_UPSTREAM_QUEUE_TIMEOUT_MS,
  DEFAULT_UPSTREAM_TIMEOUT_MS,
  DEFAULT_WATCHDOG_MS,
} from '../limits.js';
import type { FilterLimits } from '../abi/wasm-vm.js';
import { parseClusters } from './clusters-config.js';
import type { FilterConfig, ListenAddress, LogLevelName, OutriggerConfig } from './config.js';

const TOP_KEYS = [
  'listen',
  'admin',
  'upstream',
  'filters_dir',
  'filters',
  'services',
  'log_level',
  'upstream_timeout_ms',
  'connect_timeout_ms',
  'max_buffered_body',
  'filter_hold_timeout_ms',
  'drain_timeout_ms',
  'normalize_path',
  'trust_forwarded_headers',
  'generate_request_id',
  'client_header_timeout_ms',
  'client_body_timeout_ms',
  'keepalive_timeout_ms',
  'upstream_max_connections',
  'upstream_queue_timeout_ms',
  'breaker',
  'watchdog_ms',
  'callback_timing_sample',
  'clusters',
] as const;
const LIMIT_KEYS = ['cpu_ms', 'start_ms', 'memory_mb'] as const;
/** wasm32 linear memory ends at 4 GiB. */
const MAX_MEMORY_MB = 4096;
const FILTER_KEYS = ['name', 'file', 'root_id', 'vm_id', 'config', 'vm_config', 'on_error', 'limits', 'breaker', 'strict_imports', 'debug'] as const;
/** A service takes a filter's keys but on_error: it serves no requests, so no request can fail open or closed. */
const SERVICE_KEYS = FILTER_KEYS.filter((k) => k !== 'on_error');
const BREAKER_KEYS = ['max_faults', 'window_ms', 'backoff_ms', 'max_backoff_ms'] as const;
const DEFAULT_BREAKER: BreakerConfig = {
  maxFaults: DEFAULT_BREAKER_MAX_FAULTS,
  windowMs: DEFAULT_BREAKER_WINDOW_MS,
  backoffMs: DEFAULT_BREAKER_BACKOFF_MS,
  maxBackoffMs: DEFAULT_BREAKER_MAX_BACKOFF_MS,
};
const LOG_LEVELS: LogLevelName[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const POLICIES: FailurePolicy[] = ['fail_closed', 'fail_open'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

class Problems {
  readonly list: string[] = [];
  constructor(
    readonly file: string,
    readonly doc: Document,
    readonly lines: LineCounter,
  ) {}

  /** `atKey`: point at the key itself (for unknown keys) rather than at its value. */
  add(keyPath: (string | number)[], message: string, atKey = false): void {
    let where = '';
    if (atKey) {
      const parent = this.doc.getIn(keyPath.slice(0, -1), true);
      const pair = isMap(parent) ? parent.items.find((it) => (it.key as { value?: unknown })?.value === keyPath[keyPath.length - 1]) : undefined;
      const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
      if (range) {
        const pos = this.lines.linePos(range[0]);
        where = `:${pos.line}:${pos.col}`;
      }
    }
    for (let i = keyPath.length; i >= 0 && !where; i--) {
      const node = this.doc.getIn(keyPath.slice(0, i), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) {
        const pos = this.lines.linePos(node.range[0]);
        where = `:${pos.line}:${pos.col}`;
      }
    }
    const key = keyPath
      .map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`))
      .join('')
      .replace(/^\./, '');
    this.list.push(`${this.file}${where}: ${key ? `${key}: ` : ''}${message}`);
  }
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function parseListen(v: unknown, key: string, p: Problems, baseDir: string): ListenAddress | null {
  if (typeof v !== 'string') {
    p.add([key], `expected "host:port" or "unix:/path/to.sock", got ${describe(v)}`);
    return null;
  }
  if (v.startsWith('unix:')) {
    const sp = v.slice(5);
    if (!sp) {
      p.add([key], 'expected a socket path after "unix:"');
      return null;
    }
    return { socketPath: path.resolve(baseDir, sp), text: v };
  }
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    p.add([key], `expected "host:port" (e.g. 127.0.0.1:8080) or "unix:/path/to.sock", got ${JSON.stringify(v)}`);
    return null;
  }
  return { host: m[1].replace(/^\[|\]$/g, ''), port, text: v };
}

function parseUpstream(v: unknown, p: Problems, baseDir: string): string {
  if (typeof v !== 'string' || !v) {
    p.add(['upstream'], `required: expected a URL like http://127.0.0.1:3000, h2c://127.0.0.1:3000 or unix:/path/to/app.sock, got ${describe(v)}`);
    return '';
  }
  if (v === 'builtin:echo') return v;
  if (v.startsWith('unix:')) {
    const sp = v.slice(5);
    if (!sp) p.add(['upstream'], 'expected a socket path after "unix:"');
    return `unix:${path.resolve(baseDir, sp)}`;
  }
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    p.add(['upstream'], `not a valid URL: ${JSON.stringify(v)}; expected http://host:port or unix:/path/to/app.sock`);
    return '';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:' && url.protocol !== 'h2c:') {
    p.add(['upstream'], `unsupported scheme "${url.protocol}"; expected http://, https://, h2c:// (HTTP/2 with prior knowledge) or unix:`);
    return '';
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username) {
    p.add(['upstream'], `expected only scheme, host and port (the request path is kept as is), got ${JSON.stringify(v)}`);
    return '';
  }
  // h2c: is not a scheme URL knows an origin for ("null"): keep it by hand.
  if (url.protocol === 'h2c:') {
    if (!url.host) p.add(['upstream'], `expected h2c://host:port, got ${JSON.stringify(v)}`);
    return `h2c://${url.host}`;
  }
  return url.origin;
}

function positiveInt(v: unknown, key: string, p: Problems, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    p.add([key], `expected a positive whole number, got ${describe(v)}`);
    return dflt;
  }
  return v;
}

function bool(v: unknown, key: string, p: Problems, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') {
    p.add([key], `expected true or false, got ${describe(v)}`);
    return dflt;
  }
  return v;
}

/** A `breaker:` mapping (top-level or a filter's) over `base`; each key optional. */
function parseBreaker(v: unknown, keyPath: (string | number)[], p: Problems, base: BreakerConfig): BreakerConfig {
  if (v === undefined) return base;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    p.add(keyPath, `expected a mapping with any of ${BREAKER_KEYS.join(', ')}, got ${describe(v)}`);
    return base;
  }
  const e = v as Record<string, unknown>;
  for (const k of Object.keys(e))
    if (!(BREAKER_KEYS as readonly string[]).includes(k)) p.add([...keyPath, k], `unknown key; breaker takes ${BREAKER_KEYS.join(', ')}`, true);
  const num = (k: (typeof BREAKER_KEYS)[number], dflt: number): number => {
    const x = e[k];
    if (x === undefined) return dflt;
    if (typeof x !== 'number' || !Number.isInteger(x) || x <= 0) {
      p.add([...keyPath, k], `expected a positive whole number, got ${describe(x)}`);
      return dflt;
    }
    return x;
  };
  const out: BreakerConfig = {
    maxFaults: num('max_faults', base.maxFaults),
    windowMs: num('window_ms', base.windowMs),
    backoffMs: num('backoff_ms', base.backoffMs),
    maxBackoffMs: num('max_backoff_ms', base.maxBackoffMs),
  };
  if (out.maxBackoffMs < out.backoffMs)
    p.add(
      [...keyPath, e.max_backoff_ms !== undefined ? 'max_backoff_ms' : 'backoff_ms'],
      `max_backoff_ms (${out.maxBackoffMs}) must be at least backoff_ms (${out.backoffMs})`,
    );
  return out;
}

/** A whole number of milliseconds where 0 turns the feature off. */
function nonNegativeInt(v: unknown, key: string, p: Problems, dflt: number, zeroMeans: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    p.add([key], `expected a whole number of milliseconds (0 ${zeroMeans}), got ${describe(v)}`);
    return dflt;
  }
  return v;
}

/** A whole number, 0 or more. */
function wholeNumber(v: unknown, key: string, p: Problems, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    p.add([key], `expected a whole number (0 or more), got ${describe(v)}`);
    return dflt;
  }
  return v;
}

/** A config value as the bytes a filter receives: strings as is, anything else as JSON. */
function configBytes(v: unknown): Buffer {
  if (v === undefined || v === null) return Buffer.alloc(0);
  if (typeof v === 'string') return Buffer.from(v);
  return Buffer.from(JSON.stringify(v));
}

/**
 * A `filters:` or `services:` list. `seen` holds the names taken so far across both lists (one slot
 * namespace in /filters and /metrics).
 */
function parseFilters(
  v: unknown,
  p: Problems,
  filtersDir: string,
  checkFiles: boolean,
  breaker: BreakerConfig,
  section: 'filters' | 'services' = 'filters',
  seen = new Map<string, string>(),
): FilterConfig[] {
  const keys: readonly string[] = section === 'filters' ? FILTER_KEYS : SERVICE_KEYS;
  const what = section === 'filters' ? 'a filter' : 'a service';
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    p.add([section], `expected a list of ${section}, got ${describe(v)}`);
    return [];
  }
  const out: FilterConfig[] = [];
  v.forEach((f: unknown, i: number) => {
    if (f === null || typeof f !== 'object' || Array.isArray(f)) {
      p.add([section, i], `expected a mapping with at least name and file, got ${describe(f)}`);
      return;
    }
    const e = f as Record<string, unknown>;
    for (const k of Object.keys(e))
      if (!keys.includes(k))
        p.add(
          [section, i, k],
          `unknown key; ${what} takes ${keys.join(', ')}${k === 'on_error' ? ' (a service serves no requests, so there is no request to fail)' : ''}`,
          true,
        );
    const name = e.name;
    if (typeof name !== 'string' || !NAME.test(name)) {
      p.add([section, i, 'name'], `required: expected a name of letters, digits, "-", "_" or "." (e.g. add-header), got ${describe(name)}`);
      return;
    }
    if (seen.has(name))
      p.add(
        [section, i, 'name'],
        `duplicate ${section === 'filters' ? 'filter' : 'service'} name "${name}" (also ${seen.get(name)}); names must be unique across filters and services`,
      );
    seen.set(name, `${section}[${i}]`);
    const file = e.file;
    if (typeof file !== 'string' || !file) {
      p.add([section, i, 'file'], `required: expected the .wasm file name in filters_dir, got ${describe(file)}`);
      return;
    }
    const full = path.resolve(filtersDir, file);
    if (checkFiles) {
      if (!existsSync(full)) p.add([section, i, 'file'], `file not found: ${full} (build the filter, or fix filters_dir / file)`);
      else if (!statSync(full).isFile()) p.add([section, i, 'file'], `not a file: ${full}`);
    }
    for (const k of ['root_id', 'vm_id'] as const)
      if (e[k] !== undefined && typeof e[k] !== 'string') p.add([section, i, k], `expected a string, got ${describe(e[k])}`);
    const onError = e.on_error ?? 'fail_closed';
    if (!POLICIES.includes(onError as FailurePolicy)) p.add([section, i, 'on_error'], `expected fail_closed or fail_open, got ${describe(onError)}`);
    const limits = parseLimits(e.limits, i, p, section);
    if (e.strict_imports !== undefined && typeof e.strict_imports !== 'boolean')
      p.add([section, i, 'strict_imports'], `expected true or false, got ${describe(e.strict_imports)}`);
    if (e.debug !== undefined && typeof e.debug !== 'boolean') p.add([section, i, 'debug'], `expected true or false, got ${describe(e.debug)}`);
    out.push({
      name,
      file,
      limits,
      path: full,
      rootId: typeof e.root_id === 'string' ? e.root_id : '',
      vmId: typeof e.vm_id === 'string' ? e.vm_id : '',
      configuration: configBytes(e.config),
      vmConfiguration: configBytes(e.vm_config),
      onError: onError as FailurePolicy,
      breaker: parseBreaker(e.breaker, [section, i, 'breaker'], p, breaker),
      strictImports: e.strict_imports === true,
      debug: e.debug === true,
    });
  });
  return out;
}

/** A filter's `limits` mapping: every key optional, positive integers (memory_mb up to 4096). */
function parseLimits(v: unknown, i: number, p: Problems, section: 'filters' | 'services'): FilterLimits {
  const out: FilterLimits = { cpuMs: DEFAULT_CPU_MS, startMs: DEFAULT_START_MS, memoryMb: DEFAULT_MEMORY_MB };
  if (v === undefined) return out;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    p.add([section, i, 'limits'], `expected a mapping of ${LIMIT_KEYS.join(', ')}, got ${describe(v)}`);
    return out;
  }
  const l = v as Record<string, unknown>;
  for (const k of Object.keys(l))
    if (!(LIMIT_KEYS as readonly string[]).includes(k)) p.add([section, i, 'limits', k], `unknown key; limits takes ${LIMIT_KEYS.join(', ')}`, true);
  const num = (k: (typeof LIMIT_KEYS)[number], max: number, what: string): number | undefined => {
    const x = l[k];
    if (x === undefined) return undefined;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > max) {
      p.add([section, i, 'limits', k], `expected ${what}, got ${describe(x)}`);
      return undefined;
    }
    return x;
  };
  out.cpuMs = num('cpu_ms', 3_600_000, 'a whole number of milliseconds, at least 1') ?? out.cpuMs;
  out.startMs = num('start_ms', 3_600_000, 'a whole number of milliseconds, at least 1') ?? out.startMs;
  out.memoryMb = num('memory_mb', MAX_MEMORY_MB, `a whole number of MiB from 1 to ${MAX_MEMORY_MB}`) ?? out.memoryMb;
  return out;
}

export interface LoadOptions {
  /** Check that every filter's file exists (default true). */
  checkFiles?: boolean;
  /** Shown instead of the path, e.g. for the built-in demo. */
  displayName?: string;
  /** Directory relative paths resolve against (default: the file's directory). */
  baseDir?: string;
}

/** Parses and validates YAML text. Throws OutriggerError OUTRIGGER_CONFIG_YAML / _INVALID. */
export function parseConfig(text: string, file: string, opts: LoadOptions = {}): OutriggerConfig {
  const shown = opts.displayName ?? file;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    const msgs = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      return `${shown}${pos ? `:${pos.line}:${pos.col}` : ''}: ${e.message.split('\n')[0]}`;
    });
    throw new OutriggerError('OUTRIGGER_CONFIG_YAML', `invalid YAML in ${shown}\n  ${msgs.join('\n  ')}`, 'fix the YAML syntax at the line shown');
  }
  const p = new Problems(shown, doc, lines);
  const root = doc.toJS() as unknown;
  if (!isMap(doc.contents) || root === null || typeof root !== 'object') {
    throw new OutriggerError(
      'OUTRIGGER_CONFIG_INVALID',
      `${shown}: expected a mapping of settings (listen, upstream, filters, ...), got ${describe(root)}`,
      'see the Configuration section of README.md',
    );
  }
  const c = root as Record<string, unknown>;
  for (const k of Object.keys(c)) if (!(TOP_KEYS as readonly string[]).includes(k)) p.add([k], `unknown key; valid keys are ${TOP_KEYS.join(', ')}`, true);
  const baseDir = opts.baseDir ?? path.dirname(path.resolve(file));
  const listen = parseListen(c.listen ?? '127.0.0.1:8080', 'listen', p, baseDir);
  const admin = c.admin === false ? null : parseListen(c.admin ?? '127.0.0.1:9901', 'admin', p, baseDir);
  const upstream = parseUpstream(c.upstream, p, baseDir);
  let filtersDir = path.resolve(baseDir, 'filters');
  if (c.filters_dir !== undefined) {
    if (typeof c.filters_dir !== 'string' || !c.filters_dir) p.add(['filters_dir'], `expected a directory path, got ${describe(c.filters_dir)}`);
    else filtersDir = path.resolve(baseDir, c.filters_dir);
  }
  const checkFiles = opts.checkFiles ?? true;
  if (checkFiles && c.filters_dir !== undefined && typeof c.filters_dir === 'string' && !existsSync(filtersDir))
    p.add(['filters_dir'], `directory not found: ${filtersDir}`);
  const breaker = parseBreaker(c.breaker, ['breaker'], p, DEFAULT_BREAKER);
  const names = new Map<string, string>();
  const filters = parseFilters(c.filters, p, filtersDir, checkFiles, breaker, 'filters', names);
  const services = parseFilters(c.services, p, filtersDir, checkFiles, breaker, 'services', names);
  const logLevel = (c.log_level ?? 'info') as LogLevelName;
  if (!LOG_LEVELS.includes(logLevel)) p.add(['log_level'], `expected one of ${LOG_LEVELS.join(', ')}, got ${describe(c.log_level)}`);
  const cfg: OutriggerConfig = {
    source: shown,
    listen: listen ?? { host: '127.0.0.1', port: 8080, text: '127.0.0.1:8080' },
    admin,
    upstream,
    filtersDir,
    filters,
    services,
    logLevel,
    upstreamTimeoutMs: positiveInt(c.upstream_timeout_ms, 'upstream_timeout_ms', p, DEFAULT_UPSTREAM_TIMEOUT_MS),
    connectTimeoutMs: positiveInt(c.connect_timeout_ms, 'connect_timeout_ms', p, DEFAULT_CONNECT_TIMEOUT_MS),
    maxBufferedBody: positiveInt(c.max_buffered_body, 'max_buffered_body', p, DEFAULT_MAX_BUFFERED_BODY_BYTES),
    filterHoldTimeoutMs: positiveInt(c.filter_hold_timeout_ms, 'filter_hold_timeout_ms', p, DEFAULT_FILTER_HOLD_TIMEOUT_MS),
    drainTimeoutMs: positiveInt(c.drain_timeout_ms, 'drain_timeout_ms', p, DEFAULT_DRAIN_TIMEOUT_MS),
    normalizePath: bool(c.normalize_path, 'normalize_path', p, true),
    trustForwardedHeaders: bool(c.trust_forwarded_headers, 'trust_forwarded_headers', p, false),
    generateRequestId: bool(c.generate_request_id, 'generate_request_id', p, true),
    clientHeaderTimeoutMs: positiveInt(c.client_header_timeout_ms, 'client_header_timeout_ms', p, DEFAULT_CLIENT_HEADER_TIMEOUT_MS),
    clientBodyTimeoutMs: positiveInt(c.client_body_timeout_ms, 'client_body_timeout_ms', p, DEFAULT_CLIENT_BODY_TIMEOUT_MS),
    keepaliveTimeoutMs: positiveInt(c.keepalive_timeout_ms, 'keepalive_timeout_ms', p, DEFAULT_KEEPALIVE_TIMEOUT_MS),
    upstreamMaxConnections: positiveInt(c.upstream_max_connections, 'upstream_max_connections', p, DEFAULT_UPSTREAM_MAX_CONNECTIONS),
    upstreamQueueTimeoutMs: positiveInt(c.upstream_queue_timeout_ms, 'upstream_queue_timeout_ms', p, DEFAULT_UPSTREAM_QUEUE_TIMEOUT_MS),
    watchdogMs: nonNegativeInt(c.watchdog_ms, 'watchdog_ms', p, DEFAULT_WATCHDOG_MS, 'turns the watchdog off'),
    callbackTimingSample: wholeNumber(c.callback_timing_sample, 'callback_timing_sample', p, DEFAULT_CALLBACK_TIMING_SAMPLE),
    clusters: parseClusters(c.clusters, p, baseDir),
  };
  if (p.list.length)
    throw new OutriggerError(
      'OUTRIGGER_CONFIG_INVALID',
      `invalid config ${shown} (${p.list.length} problem${p.list.length > 1 ? 's' : ''})\n  ${p.list.join('\n  ')}`,
      'fix the keys listed above; see the Configuration section of README.md',
    );
  return cfg;
}

/** Reads a config file. Throws OutriggerError with the file named. */
export function loadConfigFile(file: string, opts: LoadOptions = {}): OutriggerConfig {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new OutriggerError(
      'OUTRIGGER_CONFIG_READ',
      `cannot read config ${abs}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
      'pass an existing file with --config',
    );
  }
  return parseConfig(text, abs, opts);
}
