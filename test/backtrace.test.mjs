// Errors a filter author can act on: a trap names the AssemblyScript functions it went through, in
// the proxy's log line and in /filters; in the test harness (which runs the module as built) a debug
// build's source map adds file.ts:line:col. In the proxy the sandbox's rewrite moves the byte offsets
// the map refers to, so there the frames carry names only (see host/filters/load-filter.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { request } from 'undici';
import { loadFilter } from 'outrigger/testing';
import { FIXTURES, ROOT, startProxy } from './helpers/proxy.mjs';
import { startUpstream } from './helpers/upstream.mjs';

const T = { timeout: 30_000 };
const SOURCE = 'test/fixtures/filters/trap_debug.ts';
/** The line of the fixture's `unreachable()`, read from the source so the test follows edits. */
const TRAP_LINE =
  readFileSync(path.join(ROOT, SOURCE), 'utf8')
    .split('\n')
    .findIndex((l) => l.includes('TRAP-LINE')) + 1;

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
    const filters = /** @type {any} */ (await (await request(`${proxy.admin}/filters`)).body.json());
    const bt = filters.filters.find((f) => f.name === 'mapped').backtrace;
    assert.match(bt[0], /checkPath \(wasm offset 0x[0-9a-f]+\)$/);
    assert.match(bt[1], /TrapDebug#onRequestHeaders /);
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
