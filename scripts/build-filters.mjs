#!/usr/bin/env node
// Builds AssemblyScript proxy-wasm filters with the repo's asconfig.json (runtime minimal,
// --exportStart _initialize, abort routed to the SDK's outrigger_abort) and the SDK's build
// transform (sdk/transform/index.mjs: callback pruning, the SDK's collector).
//
//   node scripts/build-filters.mjs          builds examples/<name>/filter.ts → filters/<name_with_underscores>.wasm
//   import { buildFilter } from "./build-filters.mjs";
//   await buildFilter("examples/add-header/filter.ts", "filters/add_header.wasm", { target: "release" });
import asc from 'assemblyscript/asc';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Compiles one AssemblyScript entry file to a .wasm file.
 * @param {string} entryFile  path of the entry (.ts), absolute or relative to the current directory
 * @param {string} outFile    path of the .wasm to write (its directory is created). It is written to a
 *                            temporary name and renamed into place, so a directory watcher never sees
 *                            a half-written module.
 * @param {{target?: "release" | "debug", baseDir?: string, sourceMap?: boolean}} [options]
 *   baseDir: the directory whose node_modules resolve package imports (`import ... from "outrigger/sdk"`
 *   in a filter project; default this repository). sourceMap: also write `<outFile>.map` (with the
 *   sources embedded) and reference it from the module.
 * @returns {Promise<{outFile: string, ms: number, warnings: string}>} warnings: what the compiler and
 *   the SDK transform wrote to stderr on success (e.g. that the standard collector was used), or ""
 * @throws {Error} with the compiler's diagnostics when compilation fails
 */
export async function buildFilter(entryFile, outFile, { target = 'release', baseDir = ROOT, sourceMap = false } = {}) {
  const started = Date.now();
  const entry = path.resolve(entryFile);
  const out = path.resolve(outFile);
  const base = path.resolve(baseDir);
  await mkdir(path.dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.${Date.now()}.tmp`;
  let stdout = '';
  let stderr = '';
  const { error } = await asc.main(
    [
      path.relative(base, entry),
      '--baseDir',
      base,
      '--config',
      // Absolute, so a filter project outside this repository builds with the same settings.
      path.join(ROOT, 'asconfig.json'),
      '--target',
      target,
      // The SDK's build transform (sdk/README.md): given here with an absolute path, since asc
      // resolves a relative transform path in asconfig.json against the wrong base.
      '--transform',
      path.join(ROOT, 'sdk', 'transform', 'index.mjs'),
      '--outFile',
      tmp,
      // asc names the map after the output file; the module is written under a temporary name, so the
      // map's name (and the URL in the module) are given explicitly.
      ...(sourceMap ? ['--sourceMap', `./${path.basename(out)}.map`] : []),
    ],
    {
      stdout: {
        write(s) {
          stdout += s;
          return true;
        },
      },
      stderr: {
        write(s) {
          stderr += s;
          return true;
        },
      },
    },
  );
  if (error) {
    await rm(tmp, { force: true });
    const detail = [stderr.trim(), stdout.trim()].filter(Boolean).join('\n');
    throw new Error(`asc failed for ${path.relative(process.cwd(), entry)}: ${error.message}${detail ? `\n${detail}` : ''}`);
  }
  if (sourceMap) await fixSourceRoot(`${out}.map`);
  await rename(tmp, out);
  return { outFile: out, ms: Date.now() - started, warnings: stderr.trim() };
}

/** asc sets the map's sourceRoot from the temporary output name; the sources are embedded anyway. */
async function fixSourceRoot(mapFile) {
  const map = JSON.parse(await readFile(mapFile, 'utf8'));
  map.sourceRoot = './';
  await writeFile(mapFile, JSON.stringify(map));
}

/** Every examples/<name>/filter.ts, with the .wasm it builds to (filters/<name, - → _>.wasm). */
export async function listExampleFilters() {
  const examplesDir = path.join(ROOT, 'examples');
  const out = [];
  for (const name of (await readdir(examplesDir)).sort()) {
    const entry = path.join(examplesDir, name, 'filter.ts');
    const s = await stat(entry).catch(() => null);
    if (!s?.isFile()) continue;
    out.push({ name, entry, outFile: path.join(ROOT, 'filters', `${name.replaceAll('-', '_')}.wasm`) });
  }
  return out;
}

async function main() {
  const target = process.argv.includes('--debug') ? 'debug' : 'release';
  const filters = await listExampleFilters();
  await mkdir(path.join(ROOT, 'filters'), { recursive: true });
  let failed = 0;
  for (const f of filters) {
    try {
      const { ms, warnings } = await buildFilter(f.entry, f.outFile, { target });
      const { size } = await stat(f.outFile);
      console.log(`built ${path.relative(ROOT, f.outFile)} (${size} bytes, ${target}, ${ms} ms) from ${path.relative(ROOT, f.entry)}`);
      if (warnings) console.warn(warnings);
    } catch (err) {
      failed++;
      console.error(`FAILED ${path.relative(ROOT, f.entry)}\n${err.message}`);
    }
  }
  if (failed) process.exit(1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
