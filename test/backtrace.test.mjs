// Errors a filter author can act on: a trap or a deadline stop names the AssemblyScript functions it
// went through, in the proxy's log line and in /filters, and a debug build's source map adds
// file.ts:line:col per frame. In the proxy the sandbox's rewrite moves every code offset the map
// refers to; the frames still name the lines the unrewritten module (the harness) gives, because the
// loader traces each offset back (host/abi/rewrite-offsets.ts).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { request } from 'undici';
import { loadFilter } from 'outrigger/testing';
import { FIXTURES, ROOT, startProxy } from './helpers/proxy.mjs';
import { startUpstream } from './helpers/upstream.mjs';

const T = { timeout: 30_000 };
const SOURCE = 'test/fixtures/filters/trap_debug.ts';
const SPIN_SOURCE = 'test/fixtures/filters/spin_debug.ts';
/** The line of a fixture marked `// MARK`, read from the source so the test follows edits. */
const lineOf = (/** @type {string} */ source, /** @type {string} */ mark) =>
  readFileSync(path.join(ROOT, source), 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(mark)) + 1;
const TRAP_LINE = lineOf(SOURCE, 'TRAP-LINE');
const LOOP_LINE = lineOf(SPIN_SOURCE, 'LOOP-LINE');
const DIVIDE_LINE = lineOf(SPIN_SOURCE, 'DIVIDE-LINE');
const CALL_LINE = lineOf(SPIN_SOURCE, 'CALL-LINE');
/** "name (file.ts:line:col)" -> "file.ts:line:col" without a leading ./, or null for a frame without one. */
const sourceOf = (/** @type {string} */ frame) => /\((?:\.\/)?([^()]+\.ts:\d+:\d+)\)$/.exec(frame)?.[1] ?? null;

test('a trap in the proxy: the log line and /filters name the functions, innermost first', T, async () => {
  assert.ok(TRAP_LINE > 0);
  const upstream = await startUpstream();
  const proxy = await startProxy(`
upstream: ${upstream.url}
filters_dir: ${FIXTURES}
filters:
  - name: mapped
    file: trap_debug.wasm
`);
  try {
    const res = await request(`${proxy.url}/trap`);
    await res.body.text();
    assert.equal(res.statusCode, 503);
    const line = proxy.logs.find((l) => l.code === 'OUTRIGGER_FILTER_TRAP' && l.filter === 'mapped');
    assert.ok(line, JSON.stringify(proxy.logs));
    assert.match(line.msg, /unreachable \[test\/fixtures\/filters\/trap_debug\/checkPath < test\/fixtures\/filters\/trap_debug\/TrapDebug#onRequestHeaders/);
    // The sandbox is on (the proxy's default), and the line is the trap's own.
    assert.ok(line.msg.includes(`at test/fixtures/filters/trap_debug/checkPath (./${SOURCE}:${TRAP_LINE}:`), line.msg);
    const filters = /** @type {any} */ (await (await request(`${proxy.admin}/filters`)).body.json());
    const info = filters.filters.find((f) => f.name === 'mapped');
    const bt = info.backtrace;
    assert.equal(sourceOf(bt[0])?.startsWith(`${SOURCE}:${TRAP_LINE}:`), true, bt.join(' < '));
    assert.match(bt[0], /checkPath \(/);
    assert.match(bt[1], /TrapDebug#onRequestHeaders \(/);
    assert.deepEqual(line.backtrace, bt);
    // /filters reports the file's hash, not the rewritten module's.
    assert.equal(
      info.sha256,
      createHash('sha256')
        .update(readFileSync(path.join(FIXTURES, 'trap_debug.wasm')))
        .digest('hex'),
    );
  } finally {
    await proxy.close();
    await upstream.close();
  }
});

test('the harness names filter.ts:LINE from the source map; given bytes (no map beside them), names only', T, async () => {
  const f = await loadFilter(path.join(FIXTURES, 'trap_debug.wasm'));
  try {
    const r = await f.request({ path: '/trap' });
    assert.equal(r.faults.length, 1);
    assert.ok(r.faults[0].message.includes(`${SOURCE}:${TRAP_LINE}:`), r.faults[0].message);
    assert.ok(r.logs.some((l) => l.level === 'error' && l.msg.includes(`${SOURCE}:${TRAP_LINE}:`)));
  } finally {
    f.close();
  }
  const bytes = readFileSync(path.join(FIXTURES, 'trap_debug.wasm'));
  const g = await loadFilter(bytes); // bytes: no file beside it, so no source map
  try {
    const r = await g.request({ path: '/trap' });
    assert.doesNotMatch(r.faults[0].message, /\.ts:\d+/);
    assert.match(g.instance.lastBacktrace[0], /checkPath \(wasm offset 0x[0-9a-f]+\)$/);
  } finally {
    g.close();
  }
});

/** The backtrace of the first fault on `reqPath` in the proxy (sandboxed) and in the harness (as built). */
async function bothBacktraces(/** @type {string} */ wasm, /** @type {string} */ reqPath) {
  const upstream = await startUpstream();
  const proxy = await startProxy(`
upstream: ${upstream.url}
filters_dir: ${FIXTURES}
filters:
  - name: mapped
    file: ${wasm}
`);
  let sandboxed;
  try {
    const res = await request(`${proxy.url}${reqPath}`);
    await res.body.text();
    assert.equal(res.statusCode, 503);
    const filters = /** @type {any} */ (await (await request(`${proxy.admin}/filters`)).body.json());
    sandboxed = filters.filters.find((f) => f.name === 'mapped').backtrace;
  } finally {
    await proxy.close();
    await upstream.close();
  }
  const f = await loadFilter(path.join(FIXTURES, wasm));
  try {
    const r = await f.request({ path: reqPath });
    assert.equal(r.faults.length, 1);
    return { sandboxed, asBuilt: f.instance.lastBacktrace };
  } finally {
    f.close();
  }
}

test('under the sandbox every frame names the same file.ts:line:col as the module as built', T, async () => {
  for (const [wasm, reqPath, innermost] of [
    ['trap_debug.wasm', '/trap', `${SOURCE}:${TRAP_LINE}:`],
    ['spin_debug.wasm', '/deep', `${SPIN_SOURCE}:${DIVIDE_LINE}:`],
  ]) {
    const { sandboxed, asBuilt } = await bothBacktraces(wasm, reqPath);
    const why = `${wasm}\nsandboxed: ${sandboxed.join(' < ')}\nas built:  ${asBuilt.join(' < ')}`;
    assert.equal(sandboxed.length, asBuilt.length, why);
    assert.deepEqual(sandboxed.map(sourceOf), asBuilt.map(sourceOf), why);
    // Names, and the file's offsets for frames without a source position, are the same too.
    assert.deepEqual(sandboxed, asBuilt, why);
    assert.equal(sourceOf(sandboxed[0])?.startsWith(innermost), true, why);
    if (wasm === 'spin_debug.wasm') assert.equal(sourceOf(sandboxed[1])?.startsWith(`${SPIN_SOURCE}:${CALL_LINE}:`), true, why);
  }
});

test('a deadline stop in a loop names the loop line, in the log line and /filters', T, async () => {
  assert.ok(LOOP_LINE > 0);
  const upstream = await startUpstream();
  const proxy = await startProxy(`
upstream: ${upstream.url}
filters_dir: ${FIXTURES}
filters:
  - name: spinner
    file: spin_debug.wasm
    limits: { cpu_ms: 50 }
`);
  try {
    const res = await request(`${proxy.url}/spin`);
    await res.body.text();
    assert.equal(res.statusCode, 503);
    // The fault's line (the one with the backtrace; the stop itself is logged first, without frames).
    const line = proxy.logs.find((l) => l.code === 'OUTRIGGER_FILTER_DEADLINE' && l.filter === 'spinner' && l.backtrace);
    assert.ok(line, JSON.stringify(proxy.logs));
    assert.ok(line.msg.includes(`spinForever (./${SPIN_SOURCE}:${LOOP_LINE}:`), line.msg);
    const filters = /** @type {any} */ (await (await request(`${proxy.admin}/filters`)).body.json());
    const bt = filters.filters.find((f) => f.name === 'spinner').backtrace;
    // The innermost frame is the filter's loop (the budget check's own function is not the filter's).
    assert.match(bt[0], /spinForever \(/, bt.join(' < '));
    assert.equal(sourceOf(bt[0])?.startsWith(`${SPIN_SOURCE}:${LOOP_LINE}:`), true, bt.join(' < '));
    assert.match(bt[1], /SpinDebug#onRequestHeaders \(/, bt.join(' < '));
    assert.deepEqual(line.backtrace, bt);
  } finally {
    await proxy.close();
    await upstream.close();
  }
});
