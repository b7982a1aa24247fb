// Every kind of bad config stops `outrigger start` with one clear message naming the file, the line,
// the key and what is expected, and a non-zero exit code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FILTERS, ROOT, tempDir } from './helpers/proxy.mjs';

const CLI = path.join(ROOT, 'bin/outrigger.js');

// Generous: a CLI start-up compiles and instruments the module; on a loaded machine that took over 20 s.
function run(args, cwd) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
}

function startWith(yaml) {
  const dir = tempDir();
  copyFileSync(path.join(FILTERS, 'add_header.wasm'), path.join(dir, 'add_header.wasm'));
  const file = path.join(dir, 'bad.yaml');
  writeFileSync(file, yaml);
  const r = run(['start', '--config', file], dir);
  return { ...r, file };
}

const GOOD_FILTER = `  - name: hello
    file: add_header.wasm
    config: { header: x-a, value: b }
`;

describe('config errors', () => {
  it('YAML syntax: names the file, line and column', () => {
    const r = startWith('listen: 127.0.0.1:0\nupstream: [http://x\nfilters: []\n');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /OUTRIGGER_CONFIG_YAML/);
    assert.ok(r.stderr.includes(`${r.file}:`), r.stderr);
    assert.match(r.stderr, /bad\.yaml:\d+:\d+/);
  });

  it('unknown key: names it and lists the valid ones', () => {
    const r = startWith(`listen: 127.0.0.1:0\nupstream: http://127.0.0.1:1\nfilter_dir: .\nfilters_dir: .\nfilters:\n${GOOD_FILTER}`);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /OUTRIGGER_CONFIG_INVALID/);
    assert.match(r.stderr, /bad\.yaml:3:1: filter_dir: unknown key; valid keys are listen, admin, upstream, filters_dir, filters/);
  });

  it('unknown key inside a filter', () => {
    const r = startWith(`upstream: http://127.0.0.1:1\nfilters_dir: .\nfilters:\n${GOOD_FILTER}    onerror: fail_open\n`);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /bad\.yaml:7:5: filters\[0\]\.onerror: unknown key; a filter takes name, file, root_id/);
  });

  it('wrong type: says what was expected and what was found', () => {
    const r = startWith(`upstream: http://127.0.0.1:1\nfilters_dir: .\nupstream_timeout_ms: soon\nfilters:\n${GOOD_FILTER}    on_error: fail-open\n`);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /upstream_timeout_ms: expected a positive whole number, got string "soon"/);
    assert.match(r.stderr, /filters\[0\]\.on_error: expected fail_closed or fail_open, got string "fail-open"/);
    assert.match(r.stderr, /\(2 problems\)/);
  });

  it('limits: unknown key and out-of-range values, each named', () => {
    const r = startWith(
      `upstream: http://127.0.0.1:1\nfilters_dir: .\nfilters:\n${GOOD_FILTER}    limits: { cpu_ms: 0, memory_mb: 5000, start: 10, start_ms: fast }\n`,
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /filters\[0\]\.limits\.cpu_ms: expected a whole number of milliseconds, at least 1, got number 0/);
    assert.match(r.stderr, /filters\[0\]\.limits\.memory_mb: expected a whole number of MiB from 1 to 4096, got number 5000/);
    assert.match(r.stderr, /bad\.yaml:7:\d+: filters\[0\]\.limits\.start: unknown key; limits takes cpu_ms, start_ms, memory_mb/);
    assert.match(r.stderr, /filters\[0\]\.limits\.start_ms: expected a whole number of milliseconds, at least 1, got string "fast"/);
  });

  it('duplicate filter name', () => {
    const r = startWith(`upstream: http://127.0.0.1:1\nfilters_dir: .\nfilters:\n${GOOD_FILTER}${GOOD_FILTER}`);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /bad\.yaml:7:11: filters\[1\]\.name: duplicate filter name "hello" \(also filters\[0\]\); names must be unique/);
  });

  it('missing filter file: gives the full path', () => {
    const r = startWith(`upstream: http://127.0.0.1:1\nfilters_dir: .\nfilters:\n  - name: ghost\n    file: nope.wasm\n`);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /filters\[0\]\.file: file not found: .*nope\.wasm \(build the filter, or fix filters_dir \/ file\)/);
  });

  it('bad upstream URL', () => {
    for (const [bad, why] of /** @type {[string, RegExp][]} */ ([
      ['ftp://127.0.0.1:21', /unsupported scheme "ftp:"/],
      ['not a url', /not a valid URL: "not a url"/],
      ['http://127.0.0.1:3000/some/path', /expected only scheme, host and port/],
    ])) {
      const r = startWith(`upstream: ${bad}\nfilters_dir: .\nfilters: []\n`);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /bad\.yaml:1:11: upstream: /);
      assert.match(r.stderr, why);
    }
  });

  it('missing upstream and bad listen address', () => {
    const r = startWith(`listen: localhost\nfilters: []\n`);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /listen: expected "host:port" \(e\.g\. 127\.0\.0\.1:8080\) or "unix:\/path\/to\.sock", got "localhost"/);
    assert.match(r.stderr, /upstream: required/);
  });

  it('a config file that does not exist', () => {
    const r = run(['start', '--config', '/nonexistent/outrigger.yaml'], ROOT);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /OUTRIGGER_CONFIG_READ: cannot read config \/nonexistent\/outrigger\.yaml: no such file/);
  });

  it('the example config in examples/ is valid and its filters start', () => {
    const r = run(['validate', '--config', path.join(ROOT, 'examples/outrigger.yaml')], ROOT);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /valid \(4 filters\)/);
  });

  it('validate accepts a good config and lists its filters', () => {
    const dir = tempDir();
    copyFileSync(path.join(FILTERS, 'add_header.wasm'), path.join(dir, 'add_header.wasm'));
    const file = path.join(dir, 'good.yaml');
    writeFileSync(file, `upstream: http://127.0.0.1:1\nfilters_dir: .\nfilters:\n${GOOD_FILTER}`);
    const r = run(['validate', '--config', file], dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /ok {2}hello {2}[0-9a-f]{12} {2}ABI 0\.2\.1/);
    assert.match(r.stdout, /valid \(1 filter\)/);
  });
});

describe('bad filter files at start-up', () => {
  function withFile(name, bytes, extra = '') {
    const dir = tempDir();
    writeFileSync(path.join(dir, name), bytes);
    const file = path.join(dir, 'c.yaml');
    writeFileSync(file, `listen: 127.0.0.1:0\nadmin: false\nupstream: http://127.0.0.1:1\nfilters_dir: .\nfilters:\n  - name: f\n    file: ${name}\n${extra}`);
    return run(['start', '--config', file], dir);
  }

  it('garbage bytes: OUTRIGGER_WASM_COMPILE', () => {
    const r = withFile('junk.wasm', 'this is not wasm');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /OUTRIGGER_WASM_COMPILE: f: .*junk\.wasm is not a valid WebAssembly module/);
  });

  it('a module with no proxy-wasm ABI marker: OUTRIGGER_WASM_NO_ABI', () => {
    // The smallest valid module: magic + version, no sections.
    const r = withFile('empty.wasm', Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /OUTRIGGER_WASM_NO_ABI: f: missing or unknown proxy-wasm ABI version/);
  });

  it('a filter that rejects its config: OUTRIGGER_FILTER_CONFIGURE with its own log line', () => {
    const dir = tempDir();
    copyFileSync(path.join(ROOT, 'test/fixtures/build/configure_false.wasm'), path.join(dir, 'cf.wasm'));
    const file = path.join(dir, 'c.yaml');
    writeFileSync(file, `listen: 127.0.0.1:0\nadmin: false\nupstream: http://127.0.0.1:1\nfilters_dir: .\nfilters:\n  - name: picky\n    file: cf.wasm\n`);
    const r = run(['start', '--config', file], dir);
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      /OUTRIGGER_FILTER_CONFIGURE: picky: proxy_on_configure returned false .*it logged: configure-false: this filter rejects every configuration/,
    );
  });
});
