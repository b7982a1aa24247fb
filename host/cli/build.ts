// `outrigger build [DIR] [--watch] [--debug]`: compiles a filter project (assembly/filter.ts) into its
// filters directory (filters/<name>.wasm), with the repository's asconfig.json settings and the SDK's
// build transform, so the user names neither. With --watch it rebuilds on every save; a proxy watching
// filters/ then swaps the new module in by itself (the module is written under a temporary name and
// renamed into place, so the proxy never reads half a file).

import { existsSync, readdirSync, readFileSync, statSync, watch } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../config/demo-config.js';
import { OutriggerError } from '../errors.js';
import { BUILD_WATCH_QUIET_MS } from '../limits.js';
import { wasmFileName } from './new.js';

type BuildFilter = (
  entry: string,
  out: string,
  options: { target: 'release' | 'debug'; baseDir: string; sourceMap: boolean },
) => Promise<{ outFile: string; ms: number; warnings: string }>;

export interface BuildOptions {
  /** The project directory (default: the current one). */
  dir?: string;
  debug?: boolean;
}

export interface FilterProject {
  dir: string;
  entry: string;
  outFile: string;
}

/** The project in `dir`: its package.json names the .wasm, assembly/filter.ts is the entry. */
export function findProject(dir: string): FilterProject {
  const pkgFile = path.join(dir, 'package.json');
  const entry = path.join(dir, 'assembly', 'filter.ts');
  if (!existsSync(pkgFile) || !existsSync(entry))
    throw new OutriggerError(
      'OUTRIGGER_BUILD_PROJECT',
      `${dir} is not a filter project (it needs package.json and assembly/filter.ts)`,
      'run outrigger build in a directory made by "outrigger new NAME", or pass that directory',
    );
  const name = (JSON.parse(readFileSync(pkgFile, 'utf8')) as { name?: string }).name;
  if (!name) throw new OutriggerError('OUTRIGGER_BUILD_PROJECT', `${pkgFile} has no "name"`, 'the name gives the .wasm its file name: add one');
  return { dir, entry, outFile: path.join(dir, 'filters', wasmFileName(name.replace(/^@[^/]+\//, ''))) };
}

let buildFilterFn: BuildFilter | null = null;
async function compiler(): Promise<BuildFilter> {
  // The compiler wrapper is shared with the repository's own build (scripts/build-filters.mjs).
  buildFilterFn ??= ((await import(pathToFileURL(path.join(PACKAGE_ROOT, 'scripts', 'build-filters.mjs')).href)) as { buildFilter: BuildFilter }).buildFilter;
  return buildFilterFn;
}

/** Builds the project once; throws OUTRIGGER_BUILD with the compiler's diagnostics. */
export async function buildProject(project: FilterProject, { debug = false }: BuildOptions = {}) {
  const buildFilter = await compiler();
  try {
    const r = await buildFilter(project.entry, project.outFile, { target: debug ? 'debug' : 'release', baseDir: project.dir, sourceMap: debug });
    // A release build's module no longer matches a source map left by an earlier debug build.
    if (!debug) await rm(`${project.outFile}.map`, { force: true });
    const { size } = await stat(project.outFile);
    return { ...r, size, target: debug ? 'debug' : 'release' };
  } catch (err) {
    throw new OutriggerError('OUTRIGGER_BUILD', (err as Error).message, 'fix the error above and build again (the previous .wasm is left in place)');
  }
}

/** The .wasm is newer than every source and was built for the same target (a debug build has a .map). */
function upToDate(project: FilterProject, debug: boolean): boolean {
  const built = statSync(project.outFile, { throwIfNoEntry: false });
  if (!built || existsSync(`${project.outFile}.map`) !== debug) return false;
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).mtimeMs)),
    );
  return built.mtimeMs > Math.max(newest(path.join(project.dir, 'assembly')), statSync(path.join(project.dir, 'package.json')).mtimeMs);
}

function report(project: FilterProject, r: Awaited<ReturnType<typeof buildProject>>): void {
  const rel = path.relative(process.cwd(), project.outFile) || project.outFile;
  process.stdout.write(`built ${rel} (${r.size} bytes, ${r.target}, ${r.ms} ms) at ${new Date().toISOString()}\n`);
  if (r.warnings) process.stderr.write(`${r.warnings}\n`);
}

export async function runBuild(dir: string | undefined, { watch: watching = false, debug = false }: { watch?: boolean; debug?: boolean }): Promise<void> {
  const project = findProject(path.resolve(dir ?? '.'));
  if (!watching) {
    report(project, await buildProject(project, { debug }));
    return;
  }
  // Watch mode: a failed build is reported and the watch goes on (the last good .wasm stays live).
  let running = false;
  let again = false;
  let timer: NodeJS.Timeout | null = null;
  const rebuild = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      report(project, await buildProject(project, { debug }));
    } catch (err) {
      process.stderr.write(`${err instanceof OutriggerError ? err.describe() : String(err)}\n`);
    }
    running = false;
    if (again) {
      again = false;
      void rebuild();
    }
  };
  if (upToDate(project, debug)) process.stdout.write(`${path.relative(process.cwd(), project.outFile)} is up to date\n`);
  else await rebuild();
  const sources = path.join(project.dir, 'assembly');
  watch(sources, { recursive: true }, (_event, name) => {
    if (name && !String(name).endsWith('.ts')) return;
    // Editors save in several writes (truncate, write, rename): build once they are done.
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      void rebuild();
    }, BUILD_WATCH_QUIET_MS);
  });
  process.stdout.write(`watching ${path.relative(process.cwd(), sources) || sources} for changes (Ctrl-C stops)\n`);
}
