// The package as a stranger gets it: `npm pack`, the tarball installed into an empty project (offline
// from the npm cache), then a filter author's day with the installed `outrigger` command: `new`,
// `npm test`, `build`, `start`, a request, an edit that `build --watch` compiles and the running proxy
// swaps in by itself.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, tempDir } from './helpers/proxy.mjs';
import { until } from './helpers/wait.mjs';

const exec = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
// Installs come from the npm cache that `npm ci` filled; the registry is asked only for what is missing.
const INSTALL = ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];
// Without NODE_TEST_CONTEXT: set by this runner, it would make the scaffold's own `node --test` report
// to us in the runner's internal protocol instead of printing its results.
const { NODE_TEST_CONTEXT: _, ...parentEnv } = process.env;
const env = { ...parentEnv, npm_config_update_notifier: 'false' };

/** Runs a command to completion; on failure the error carries its output. */
async function run(cmd, args, cwd, timeout = 60_000) {
  try {
    return await exec(cmd, args, { cwd, env, timeout, maxBuffer: 16 << 20 });
  } catch (/** @type {any} */ err) {
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}

/** A long-running `outrigger` process of the installed package, its output kept line by line. */
function spawnInstalled(bin, args, cwd) {
  const child = spawn(process.execPath, [bin, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { lines: [], stderr: '' };
  let buf = '';
  child.stdout.on('data', (c) => {
    buf += c;
    for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) out.lines.push(buf.slice(0, i));
  });
  child.stderr.on('data', (c) => {
    out.stderr += c;
  });
  return { child, out };
}

describe('the packed package, installed into an empty project', { timeout: 240_000 }, () => {
  let work;
  let tarball;
  let files;
  const children = [];

  before(async () => {
    work = tempDir('outrigger-pkg-');
    // --ignore-scripts: prepack is `npm run build`, which the suite has just done (pretest).
    const { stdout } = await run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', work], ROOT);
    const [info] = JSON.parse(stdout);
    tarball = path.join(work, info.filename);
    files = info.files.map((f) => f.path);
    const app = path.join(work, 'app');
    await run('mkdir', ['-p', app], work);
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    await run(NPM, [...INSTALL, tarball], app, 120_000);
  });

  after(() => {
    for (const c of children) c.kill('SIGKILL');
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships the prebuilt example filters, the SDK, the scaffold template and the types', () => {
    for (const f of ['filters/request_id.wasm', 'filters/api_key_auth.wasm', 'filters/add_header.wasm', 'filters/body_rewrite.wasm'])
      assert.ok(files.includes(f), f);
    for (const f of ['sdk/index.ts', 'sdk/exports.ts', 'templates/filter/assembly/filter.ts', 'dist/host/index.d.ts', 'bin/outrigger.js', 'asconfig.json'])
      assert.ok(files.includes(f), f);
    const pkg = JSON.parse(readFileSync(path.join(work, 'app/node_modules/outrigger/package.json'), 'utf8'));
    assert.ok(pkg.dependencies.assemblyscript, 'assemblyscript is a run-time dependency (outrigger build)');
  });

  it('validates the shipped example config and runs the demo through the package exports', { timeout: 60_000 }, async () => {
    const app = path.join(work, 'app');
    const { stdout } = await run(
      process.execPath,
      ['node_modules/outrigger/bin/outrigger.js', 'validate', '--config', 'node_modules/outrigger/examples/outrigger.yaml'],
      app,
    );
    assert.match(stdout, /valid \(4 filters\)/);
    // The demo (`outrigger start` with no config) listens on 8080; here the same config on port 0.
    const script = `
      import { demoConfig, startOutrigger } from 'outrigger';
      import { pino } from 'pino';
      const c = demoConfig();
      c.listen = { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' };
      c.admin = { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' };
      const r = await startOutrigger(c, { logger: pino({ level: 'silent' }) });
      const res = await fetch('http://' + r.address + '/anything');
      console.log(JSON.stringify({ status: res.status, hello: res.headers.get('x-hello'), body: await res.text() }));
      await r.close();`;
    writeFileSync(path.join(app, 'demo.mjs'), script);
    const demo = JSON.parse((await run(process.execPath, ['demo.mjs'], app)).stdout);
    assert.equal(demo.status, 200);
    assert.equal(demo.hello, 'world');
    assert.match(demo.body, /body rewritten by the body-rewrite filter/);
  });

  it('new, npm test, build, start, a request; then an edit goes live through build --watch', { timeout: 180_000 }, async () => {
    const app = path.join(work, 'app');
    const created = await run(process.execPath, ['node_modules/outrigger/bin/outrigger.js', 'new', 'hello', '--outrigger', `file:${tarball}`], app);
    assert.match(created.stdout, /created hello\//);
    const project = path.join(app, 'hello');
    const source = readFileSync(path.join(project, 'assembly/filter.ts'), 'utf8');
    assert.match(source, /from "outrigger\/sdk"/, 'the SDK is imported by package name');
    assert.doesNotMatch(source, /\.\.\//);
    await run(NPM, INSTALL, project, 120_000);
    const bin = path.join(project, 'node_modules/outrigger/bin/outrigger.js');

    // `npm test` builds (pretest: outrigger build) and runs the scaffold's test in the harness,
    // outrigger/testing, which the package ships. The runner's summary is TAP ("# pass 2") on Node
    // 20 and 22 and the spec reporter's ("ℹ pass 2") from Node 23 on.
    assert.ok(files.includes('dist/host/testing/index.js'), 'the package ships outrigger/testing');
    const tested = await run(NPM, ['test'], project, 120_000);
    assert.match(tested.stdout, /built filters[/\\]hello\.wasm \(\d+ bytes, release/);
    assert.match(tested.stdout, /(?:#|ℹ) pass [1-9]/);
    assert.match(tested.stdout, /(?:#|ℹ) fail 0/);

    // The scaffold's outrigger.yaml, on port 0 (other tests run at the same time).
    const yaml = readFileSync(path.join(project, 'outrigger.yaml'), 'utf8');
    assert.match(yaml, /upstream: builtin:echo/);
    writeFileSync(path.join(project, 'test.yaml'), yaml.replace('127.0.0.1:8080', '127.0.0.1:0').replace('127.0.0.1:9901', '127.0.0.1:0'));
    const proxy = spawnInstalled(bin, ['start', '--config', 'test.yaml'], project);
    children.push(proxy.child);
    const ready = await until(
      () => proxy.out.lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'outrigger ready'),
      `the proxy to start (${proxy.out.stderr})`,
      30_000,
    );
    const url = `http://${ready.listen}/`;
    const first = await fetch(url);
    await first.text();
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-hello'), 'world');

    const watcher = spawnInstalled(bin, ['build', '--watch'], project);
    children.push(watcher.child);
    await until(() => watcher.out.lines.some((l) => l.startsWith('watching ')), `build --watch to start (${watcher.out.stderr})`, 60_000);
    assert.ok(
      watcher.out.lines.some((l) => /hello\.wasm is up to date/.test(l)),
      'no rebuild of an up-to-date module at start',
    );
    const file = path.join(project, 'assembly/filter.ts');
    writeFileSync(
      file,
      source.replace('addResponseHeader(this.root_.header, this.root_.value);', 'addResponseHeader(this.root_.header, this.root_.value + "-v2");'),
    );
    await until(() => watcher.out.lines.some((l) => l.startsWith('built ')), `the rebuild (${watcher.out.stderr})`, 60_000);
    // The proxy watches filters/ and swaps the new module in by itself.
    const swapped = await until(
      async () => {
        const res = await fetch(url);
        await res.text();
        return res.headers.get('x-hello') === 'world-v2' && res;
      },
      'the new version to serve',
      15_000,
    );
    assert.equal(swapped.status, 200);
    await until(() => proxy.out.lines.some((l) => /"msg":"reload applied"/.test(l)), 'the swap in the proxy log', 10_000);

    // A broken edit: the build reports it, the watch goes on, the last good module keeps serving.
    writeFileSync(file, source.replace('return FilterHeadersStatus.Continue;', 'return FilterHeadersStatus.Continue +;'));
    await until(() => /OUTRIGGER_BUILD/.test(watcher.out.stderr), 'the build error', 60_000);
    const still = await fetch(url);
    await still.text();
    assert.equal(still.headers.get('x-hello'), 'world-v2');
  });
});
