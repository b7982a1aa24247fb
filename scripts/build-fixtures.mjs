#!/usr/bin/env node
// Builds the wasm test fixtures. Run by the root `npm test` (pretest), after `npm run build`.
//
//  (a) test/fixtures/solo-io: a filter written with the third-party AssemblyScript SDK
//      @solo-io/proxy-runtime, built with that folder's own pinned AssemblyScript 0.17.
//      Runs `npm ci` there when its node_modules are missing or older than its package-lock.json,
//      then `npm run build` -> test/fixtures/solo-io/build/solo_filter.wasm, and assembly/auth.ts ->
//      build/solo_auth.wasm with the same compiler and flags.
//  (b) every test/fixtures/filters/*.ts -> test/fixtures/build/<basename>.wasm, through
//      buildFilter(entryFile, outFile, { target }) from ./build-filters.mjs.
//
// An output newer than all of its inputs is not rebuilt. One line is printed per artifact.
// On failure the compiler's output is printed and the process exits non-zero.
//
// Environment:
//   OUTRIGGER_FORCE_FIXTURES=1     rebuild everything
//   OUTRIGGER_FIXTURE_TARGET=name  target passed to buildFilter (default "release")

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const scriptsDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(scriptsDir, '..');
const rel = (p) => path.relative(root, p) || '.';
const force = /^(1|true|yes)$/i.test(process.env.OUTRIGGER_FORCE_FIXTURES ?? '');
const target = process.env.OUTRIGGER_FIXTURE_TARGET || 'release';

class BuildError extends Error {}

function mtime(p) {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return -Infinity;
  }
}

/** Every file under `dir` (recursively) whose name matches `filter`; [] if `dir` is missing. */
/** @param {(name: string) => boolean} [filter] */
function filesUnder(dir, filter = () => true) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(p, filter));
    else if (filter(entry.name)) out.push(p);
  }
  return out;
}

/** True when `output` is missing or older than any of `inputs`. */
function isStale(output, inputs) {
  if (force) return true;
  const out = mtime(output);
  if (out === -Infinity) return true;
  return inputs.some((input) => mtime(input) > out);
}

/** Environment for a nested npm: drop what the outer `npm test` set for its own package. */
function nestedNpmEnv() {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^npm_(package_|lifecycle_|config_local_prefix$|command$)/i.test(key)) delete env[key];
  }
  return env;
}

function npm(args, cwd) {
  const isWin = process.platform === 'win32';
  const res = spawnSync(isWin ? 'npm.cmd' : 'npm', args, {
    cwd,
    env: nestedNpmEnv(),
    encoding: 'utf8',
    shell: isWin,
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.error) {
    throw new BuildError(`cannot run npm ${args.join(' ')} in ${rel(cwd)}: ${res.error.message}`);
  }
  if (res.status !== 0) {
    const output = [res.stdout, res.stderr].filter(Boolean).join('\n').trim();
    throw new BuildError(`npm ${args.join(' ')} failed in ${rel(cwd)} (exit ${res.status ?? res.signal}):\n${output}`);
  }
  return res;
}

// (a) ---------------------------------------------------------------------------------------------
function buildSoloIo() {
  const dir = path.join(root, 'test', 'fixtures', 'solo-io');
  if (!existsSync(path.join(dir, 'package.json'))) {
    console.log(`skip  ${rel(dir)}: no package.json`);
    return;
  }
  const lock = path.join(dir, 'package-lock.json');
  // npm 7+ writes node_modules/.package-lock.json on every install: use it as the install stamp.
  const stamp = path.join(dir, 'node_modules', '.package-lock.json');
  const asc = path.join(dir, 'node_modules', 'assemblyscript', 'package.json');
  if (!existsSync(asc) || mtime(stamp) < mtime(lock) || mtime(stamp) < mtime(path.join(dir, 'package.json'))) {
    console.log(`npm ci ${rel(dir)}`);
    npm(['ci', '--no-audit', '--no-fund', '--include=dev'], dir);
  }

  const output = path.join(dir, 'build', 'solo_filter.wasm');
  const inputs = [...filesUnder(path.join(dir, 'assembly')), path.join(dir, 'package.json'), lock, stamp];
  const auth = path.join(dir, 'build', 'solo_auth.wasm');
  if (!isStale(output, inputs) && !isStale(auth, inputs)) {
    console.log(`fresh ${rel(output)}, ${rel(auth)}`);
    return;
  }
  npm(['run', 'build'], dir);
  if (!existsSync(output) || (!force && isStale(output, inputs))) {
    throw new BuildError(`npm run build in ${rel(dir)} did not produce ${rel(output)}`);
  }
  console.log(`built ${rel(output)} (${statSync(output).size} bytes, @solo-io/proxy-runtime)`);
  // The second entry (assembly/auth.ts: proxy_http_call through that SDK), same compiler and flags.
  const built = spawnSync(
    process.execPath,
    [
      path.join(dir, 'node_modules', 'assemblyscript', 'bin', 'asc'),
      'assembly/auth.ts',
      '-b',
      'build/solo_auth.wasm',
      '--use',
      'abort=abort_proc_exit',
      '--optimize',
    ],
    { cwd: dir, stdio: 'inherit' },
  );
  if (built.status !== 0 || !existsSync(auth)) throw new BuildError(`asc assembly/auth.ts in ${rel(dir)} failed`);
  console.log(`built ${rel(auth)} (${statSync(auth).size} bytes, @solo-io/proxy-runtime)`);
}

// (b) ---------------------------------------------------------------------------------------------
async function buildFilterFixtures() {
  const srcDir = path.join(root, 'test', 'fixtures', 'filters');
  const outDir = path.join(root, 'test', 'fixtures', 'build');
  const entries = existsSync(srcDir)
    ? readdirSync(srcDir)
        .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
        .sort()
        .map((name) => path.join(srcDir, name))
    : [];
  if (entries.length === 0) {
    console.log(`skip  ${rel(srcDir)}/*.ts: no filter fixtures`);
    return;
  }

  const builderPath = path.join(scriptsDir, 'build-filters.mjs');
  if (!existsSync(builderPath)) {
    console.log(`skip  ${rel(srcDir)}/*.ts: ${rel(builderPath)} does not exist yet`);
    return;
  }
  const builder = await import(pathToFileURL(builderPath).href);
  if (typeof builder.buildFilter !== 'function') {
    throw new BuildError(`${rel(builderPath)} does not export buildFilter(entryFile, outFile, { target })`);
  }

  // Shared inputs: the SDK, the ABI enums, fixture libraries, the build config and the compiler.
  const shared = [
    builderPath,
    ...filesUnder(path.join(root, 'sdk'), (name) => /\.(ts|json|mjs)$/.test(name)),
    ...filesUnder(path.join(srcDir, 'lib'), (name) => name.endsWith('.ts')),
    path.join(root, 'abi', 'enums.ts'),
    path.join(root, 'asconfig.json'),
    path.join(root, 'node_modules', 'assemblyscript', 'package.json'),
  ];
  for (const entry of entries) {
    const output = path.join(outDir, `${path.basename(entry, '.ts')}.wasm`);
    if (!isStale(output, [entry, ...shared])) {
      console.log(`fresh ${rel(output)}`);
      continue;
    }
    let warnings = '';
    try {
      // A fixture whose first line says `fixture-target: debug` keeps its name section (backtrace tests);
      // *_debug.ts fixtures: the debug build with a source map (trap backtraces with file.ts:line).
      const debug = entry.endsWith('_debug.ts');
      const own = /^\/\/ fixture-target: (\w+)/.exec(readFileSync(entry, 'utf8'))?.[1] ?? target;
      warnings = (await builder.buildFilter(entry, output, debug ? { target: 'debug', sourceMap: true } : { target: own }))?.warnings ?? '';
    } catch (err) {
      const detail = err?.stderr || err?.message || String(err);
      throw new BuildError(`building ${rel(entry)} failed:\n${String(detail).trim()}`);
    }
    if (!existsSync(output)) throw new BuildError(`building ${rel(entry)} did not produce ${rel(output)}`);
    console.log(`built ${rel(output)} (${statSync(output).size} bytes)`);
    if (warnings) console.warn(warnings);
  }
}

try {
  buildSoloIo();
  await buildFilterFixtures();
} catch (err) {
  if (err instanceof BuildError) {
    console.error(`build-fixtures: ${err.message}`);
  } else {
    console.error('build-fixtures:', err);
  }
  process.exit(1);
}
