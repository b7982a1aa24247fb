// Hot reload: watches the config file and the filters directory, waits for writes to settle, and
// re-applies the config. Also rescans on a timer, so a missed event (network filesystems, editors
// that replace directories) costs a few seconds, not a stale filter. Rejections keep the running
// chain and say why.

import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { OutriggerConfig } from '../config/config.js';
import { loadConfigFile } from '../config/load-config.js';
import { OutriggerError } from '../errors.js';
import { RELOAD_MAX_SETTLE_MS, RELOAD_QUIET_MS, RESCAN_INTERVAL_MS } from '../limits.js';
import type { FilterManager } from './filter-manager.js';

export interface ReloadResult {
  changed: boolean;
  generation: number;
  changes: string[];
  rejected: string[];
  error?: { code: string; message: string; hint?: string };
}

export interface ReloaderOptions {
  /** The config file to re-read, or null for a config given in memory (the demo). */
  configFile: string | null;
  config: OutriggerConfig;
  manager: FilterManager;
  logger: Logger;
  /** Applies the non-filter settings of a new config (upstream, timeouts, log level). */
  applySettings: (next: OutriggerConfig, prev: OutriggerConfig) => void;
}

/** Editors and copy tools write these next to the real file; they are never filters. */
function isTempName(name: string): boolean {
  return name.startsWith('.') || name.endsWith('~') || /\.(swp|swx|tmp|part|crdownload)$/.test(name) || /^#.*#$/.test(name);
}

export class Reloader {
  readonly #opts: ReloaderOptions;
  #config: OutriggerConfig;
  #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | null = null;
  #firstEventAt = 0;
  #rescan: NodeJS.Timeout | null = null;
  #signature = '';
  #closed = false;
  #running: Promise<ReloadResult> = Promise.resolve({ changed: false, generation: 0, changes: [], rejected: [] });

  constructor(opts: ReloaderOptions) {
    this.#opts = opts;
    this.#config = opts.config;
  }

  get config(): OutriggerConfig {
    return this.#config;
  }

  /** Starts watching and the periodic rescan. */
  async start(): Promise<void> {
    this.#watch();
    this.#signature = await this.#fileSignature();
    this.#rescan = setInterval(() => void this.#checkSignature(), RESCAN_INTERVAL_MS);
    this.#rescan.unref();
  }

  close(): void {
    this.#closed = true;
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#rescan) clearInterval(this.#rescan);
  }

  /** Re-reads the config and every filter file now; serialized with any reload in progress. */
  reload(reason: string): Promise<ReloadResult> {
    const run = this.#running.then(() => this.#reload(reason));
    this.#running = run.catch(() => ({ changed: false, generation: 0, changes: [], rejected: [] }));
    return run;
  }

  async #reload(reason: string): Promise<ReloadResult> {
    const { manager, logger } = this.#opts;
    const prev = this.#config;
    let next = prev;
    try {
      if (this.#opts.configFile) next = loadConfigFile(this.#opts.configFile, { checkFiles: false });
      const result = await manager.apply(next);
      this.#config = next;
      this.#opts.applySettings(next, prev);
      if (next.filtersDir !== prev.filtersDir || next.filters.some((f, i) => f.path !== prev.filters[i]?.path)) this.#watch();
      if (result.changed || result.rejected.length)
        logger.info({ reason, generation: result.generation, changes: result.changes, rejected: result.rejected }, 'reload applied');
      return result;
    } catch (err) {
      const e = err instanceof OutriggerError ? err : new OutriggerError('OUTRIGGER_CONFIG_INVALID', (err as Error).message);
      logger.error({ code: e.code, reason }, `reload rejected, the running chain keeps serving: ${e.message}`);
      return { changed: false, generation: manager.current.id, changes: [], rejected: [], error: { code: e.code, message: e.message, hint: e.hint } };
    } finally {
      this.#signature = await this.#fileSignature();
    }
  }

  #watch(): void {
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
    const { logger, configFile } = this.#opts;
    // Directories, not files: editors and `mv` replace a file, which ends a watch on it. The filters
    // directory (any .wasm), plus the directory of every listed file and of the config (those names).
    const names = new Map<string, Set<string>>();
    const addName = (file: string) => {
      const d = path.dirname(file);
      if (!names.has(d)) names.set(d, new Set());
      names.get(d)!.add(path.basename(file));
    };
    for (const f of this.#config.filters) addName(f.path);
    if (configFile) addName(configFile);
    const filtersDir = this.#config.filtersDir;
    const byDir = new Map<string, (name: string) => boolean>();
    for (const dir of new Set([filtersDir, ...names.keys()])) {
      const listed = names.get(dir);
      const anyWasm = dir === filtersDir;
      byDir.set(dir, (name) => !isTempName(name) && ((anyWasm && name.endsWith('.wasm')) || (listed?.has(name) ?? false)));
    }
    for (const [dir, relevant] of byDir) {
      const onError = (err: Error) => logger.warn({ dir, err: err.message }, 'watching a directory failed; relying on the periodic rescan');
      try {
        const w = watch(dir, (_event, name) => {
          if (name && relevant(name.toString())) this.#schedule();
        });
        w.on('error', onError);
        this.#watchers.push(w);
      } catch (err) {
        onError(err as Error);
      }
    }
  }

  /** Coalesces bursts of events; waits until files have not been written for RELOAD_QUIET_MS. */
  #schedule(): void {
    if (this.#closed) return;
    const now = Date.now();
    if (this.#timer === null) this.#firstEventAt = now;
    else clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#settled(), RELOAD_QUIET_MS);
  }

  async #settled(): Promise<void> {
    this.#timer = null;
    if (this.#closed) return;
    const newest = await this.#newestWrite();
    const sinceFirst = Date.now() - this.#firstEventAt;
    if (Date.now() - newest < RELOAD_QUIET_MS && sinceFirst < RELOAD_MAX_SETTLE_MS) {
      // Still being written in place: look again shortly.
      this.#timer = setTimeout(() => void this.#settled(), RELOAD_QUIET_MS);
      return;
    }
    await this.reload('file change');
  }

  #watchedFiles(): string[] {
    const files = this.#config.filters.map((f) => f.path);
    if (this.#opts.configFile) files.push(this.#opts.configFile);
    return files;
  }

  async #newestWrite(): Promise<number> {
    let newest = 0;
    for (const f of this.#watchedFiles()) {
      try {
        newest = Math.max(newest, (await stat(f)).mtimeMs);
      } catch {
        // A missing file has no write in progress.
      }
    }
    return newest;
  }

  async #fileSignature(): Promise<string> {
    const parts: string[] = [];
    for (const f of this.#watchedFiles()) {
      try {
        const s = await stat(f);
        parts.push(`${f}:${s.ino}:${s.size}:${s.mtimeMs}`);
      } catch {
        parts.push(`${f}:missing`);
      }
    }
    return parts.join('|');
  }

  async #checkSignature(): Promise<void> {
    if (this.#closed || this.#timer !== null) return;
    const sig = await this.#fileSignature();
    if (sig !== this.#signature) {
      this.#signature = sig;
      await this.reload('periodic rescan');
    }
  }
}
