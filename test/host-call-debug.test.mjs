// `debug: true` on a filter: each non-Ok host-call result is logged once per call site, with the
// call's name, the result, why, the callback and the arguments. Off: nothing of the kind is logged.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { loadFilter } from 'outrigger/testing';
import { parseConfig } from '../dist/host/config/load-config.js';
import { FIXTURES } from './helpers/proxy.mjs';

const T = { timeout: 20_000 };
const diag = (logs) => logs.filter((l) => l.code === 'OUTRIGGER_HOST_CALL_RESULT');

test('debug: true logs every failing host call once per call site, naming the call and why', T, async () => {
  const f = await loadFilter(path.join(FIXTURES, 'bad_pointers.wasm'), { debug: true });
  try {
    const r = await f.request({ path: '/' });
    assert.equal(r.response.status, 200);
    const lines = diag(f.logs);
    const bad = lines.find((l) => l.call === 'proxy_get_header_map_value' && l.result === 'BadArgument');
    assert.ok(bad, JSON.stringify(lines.map((l) => l.msg)));
    assert.equal(bad.level, 'warn');
    assert.match(
      bad.msg,
      /^proxy_get_header_map_value returned BadArgument in proxy_on_request_headers at (.* \()?wasm-function\[\d+\]:0x[0-9a-f]+\)?: an argument is out of range: an unknown map\/buffer\/stream type/,
    );
    assert.match(bad.msg, /\(arguments 42, /, 'the arguments say which one was wrong');
    const oob = lines.find((l) => l.call === 'proxy_get_header_map_value' && l.result === 'InvalidMemoryAccess');
    assert.match(oob.msg, /outside the filter's memory/);
    // Two call sites of proxy_log with different failures are two lines; each site once.
    const sites = lines.map((l) => `${l.call} ${l.site}`);
    assert.equal(new Set(sites).size, sites.length);
    const count = lines.length;
    await f.request({ path: '/' });
    assert.equal(diag(f.logs).length, count, 'a second request through the same call sites logs nothing new');
  } finally {
    f.close();
  }
  const quiet = await loadFilter(path.join(FIXTURES, 'bad_pointers.wasm'));
  try {
    await quiet.request({ path: '/' });
    assert.equal(diag(quiet.logs).length, 0);
  } finally {
    quiet.close();
  }
});

test('the debug key is validated like the others', T, () => {
  const base = 'upstream: builtin:echo\nfilters_dir: /nonexistent\nfilters:\n  - name: a\n    file: a.wasm\n';
  assert.throws(
    () => parseConfig(`${base}    debug: "yes"\n`, '/etc/o.yaml'),
    (err) => /filters\[0\]\.debug: expected true or false, got string "yes"/.test(/** @type {Error} */ (err).message),
  );
});
