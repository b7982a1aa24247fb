// `outrigger new` and `outrigger build` from this checkout (the installed package's day is
// package.test.mjs): the scaffold's files, --debug with a source map, release pruning, the errors.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, tempDir } from './helpers/proxy.mjs';

const exec = promisify(execFile);
const BIN = path.join(ROOT, 'bin/outrigger.js');

/** `outrigger ARGS` in `cwd`: { code, stdout, stderr }. */
async function outrigger(args, cwd) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { cwd, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (/** @type {any} */ err) {
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('outrigger new and outrigger build', { timeout: 120_000 }, () => {
  let work;
  let project;
  before(async () => {
    work = tempDir('outrigger-new-');
    const r = await outrigger(['new', 'my-filter'], work);
    assert.equal(r.code, 0, r.stderr);
    project = path.join(work, 'my-filter');
    // What `npm install` gives the project: outrigger under node_modules (here this checkout).
    mkdirSync(path.join(project, 'node_modules'));
    symlinkSync(ROOT, path.join(project, 'node_modules/outrigger'), 'dir');
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('creates the project from the template, with its names filled in', () => {
    const pkg = JSON.parse(readFileSync(path.join(project, 'package.json'), 'utf8'));
    const version = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
    assert.equal(pkg.name, 'my-filter');
    assert.equal(pkg.dependencies.outrigger, `^${version}`);
    assert.equal(pkg.scripts.test, 'node --test');
    assert.match(readFileSync(path.join(project, 'outrigger.yaml'), 'utf8'), /file: my_filter\.wasm/);
    assert.match(readFileSync(path.join(project, 'test/filter.test.mjs'), 'utf8'), /filters\/my_filter\.wasm/);
    assert.ok(existsSync(path.join(project, '.gitignore')));
    assert.doesNotMatch(readFileSync(path.join(project, 'README.md'), 'utf8'), /\{\{/);
  });

  it('refuses a bad name and a directory that is not empty', async () => {
    const bad = await outrigger(['new', 'Bad Name'], work);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /OUTRIGGER_USAGE: "Bad Name" is not a usable project name/);
    const again = await outrigger(['new', 'my-filter'], work);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /OUTRIGGER_NEW_EXISTS/);
  });

  it('--debug builds with a source map of the filter; a release build prunes callbacks and drops the map', async () => {
    const debug = await outrigger(['build', '--debug'], project);
    assert.equal(debug.code, 0, debug.stderr);
    assert.match(debug.stdout, /built filters[/\\]my_filter\.wasm \(\d+ bytes, debug/);
    const wasm = path.join(project, 'filters/my_filter.wasm');
    const map = JSON.parse(readFileSync(`${wasm}.map`, 'utf8'));
    const i = map.sources.findIndex((s) => s.endsWith('assembly/filter.ts'));
    assert.ok(i >= 0, map.sources.join(' '));
    assert.match(map.sourcesContent[i], /addResponseHeader/);
    assert.ok(
      map.sources.some((s) => s.startsWith('~lib/outrigger/sdk/')),
      'the SDK comes by package name',
    );
    assert.ok(readFileSync(wasm).includes('./my_filter.wasm.map'), 'the module names its map');

    const release = await outrigger(['build'], project);
    assert.equal(release.code, 0, release.stderr);
    assert.equal(release.stderr, '', 'no warning: the SDK transform and collector were applied');
    assert.ok(!existsSync(`${wasm}.map`));
    const exports = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(wasm))).map((e) => e.name);
    assert.ok(exports.includes('proxy_on_response_headers'));
    assert.ok(!exports.includes('proxy_on_request_headers'), 'the SDK transform pruned the callbacks the filter does not override');
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(wasm))).map((e) => `${e.module}.${e.name}`);
    assert.ok(!imports.includes('env.abort'), 'abort is routed to the SDK (asconfig.json applied)');
  });

  it('a compile error exits 1 with the diagnostics and leaves the last good module', async () => {
    const wasm = path.join(project, 'filters/my_filter.wasm');
    const before = statSync(wasm).mtimeMs;
    const file = path.join(project, 'assembly/filter.ts');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace('return FilterHeadersStatus.Continue;', 'return FilterHeadersStatus.Continu;'));
    try {
      const r = await outrigger(['build'], project);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /OUTRIGGER_BUILD: .*filter\.ts/s);
      assert.match(r.stderr, /Continu/);
      assert.equal(statSync(wasm).mtimeMs, before);
    } finally {
      writeFileSync(file, good);
    }
  });

  it('outside a filter project: OUTRIGGER_BUILD_PROJECT', async () => {
    const r = await outrigger(['build'], work);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /OUTRIGGER_BUILD_PROJECT/);
  });
});
