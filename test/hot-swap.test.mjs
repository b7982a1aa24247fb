// Hot swap: new .wasm files and config edits go live without a restart; requests finish on the
// generation they started with; bad candidates are rejected while the last good version serves.
import assert from 'node:assert/strict';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { request } from 'undici';
import { FIXTURES, startProxy, tempDir } from './helpers/proxy.mjs';
import { startUpstream } from './helpers/upstream.mjs';
import { until } from './helpers/wait.mjs';

const A = readFileSync(path.join(FIXTURES, 'version_a.wasm'));
const B = readFileSync(path.join(FIXTURES, 'version_b.wasm'));

/** Atomic replace, as deploy tools do: write beside, rename over. */
function renameInto(file, bytes) {
  writeFileSync(`${file}.tmp`, bytes);
  renameSync(`${file}.tmp`, file);
}

async function filters(proxy) {
  return /** @type {Promise<any>} */ ((await request(`${proxy.admin}/filters`)).body.json());
}

async function get(proxy, p = '/') {
  const res = await request(`${proxy.url}${p}`);
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body };
}

describe('hot swap of a filter file', () => {
  let upstream;
  let proxy;
  let dir;
  let file;
  const held = [];

  before(async () => {
    upstream = await startUpstream((req, res) => {
      const reply = () => {
        res.writeHead(200, { 'x-upstream-saw': req.headers['x-version-request'] ?? 'none', 'x-upstream-chain': req.headers['x-chain'] ?? '' });
        res.end('ok');
      };
      if (req.url === '/hold') held.push(reply);
      else reply();
    });
    dir = tempDir();
    file = path.join(dir, 'stamp.wasm');
    writeFileSync(file, A);
    proxy = await startProxy(`upstream: ${upstream.url}\nfilters_dir: .\nfilters:\n  - name: stamp\n    file: stamp.wasm\n`, { dir });
  });
  after(async () => {
    for (const r of held) r();
    await proxy?.close();
    await upstream?.close();
  });
  beforeEach(async () => {
    // Each test starts from version a, active.
    renameInto(file, A);
    await until(async () => (await filters(proxy)).filters[0].state === 'active', 'state active');
    await until(async () => (await get(proxy)).headers['x-version-response'] === 'a', 'version a');
  });

  it('a request in flight across a swap finishes on the old version; the next one sees the new', async () => {
    const inflight = request(`${proxy.url}/hold`);
    await until(() => held.length === 1, 'the upstream to hold the request');
    const genBefore = (await filters(proxy)).generation;
    renameInto(file, B);
    const status = await until(async () => {
      const f = await filters(proxy);
      return f.generation > genBefore && f;
    }, 'the new generation');
    assert.equal(status.filters[0].state, 'active');
    const next = await get(proxy);
    assert.equal(next.headers['x-upstream-saw'], 'b');
    assert.equal(next.headers['x-version-response'], 'b');
    held.shift()();
    const res = await inflight;
    await res.body.text();
    assert.equal(res.headers['x-upstream-saw'], 'a');
    assert.equal(res.headers['x-version-response'], 'a', 'the response phase ran on the generation the request started on');
    const swap = proxy.logs.findLast((l) => l.msg === 'filter replaced' && l.filter === 'stamp');
    assert.match(swap.oldSha256, /^[0-9a-f]{64}$/);
    assert.match(swap.sha256, /^[0-9a-f]{64}$/);
    assert.notEqual(swap.oldSha256, swap.sha256);
    assert.equal(swap.generation, status.generation);
  });

  it('picks up a file written in place (not renamed)', async () => {
    writeFileSync(file, B);
    await until(async () => (await get(proxy)).headers['x-version-response'] === 'b', 'version b after an in-place write');
  });

  for (const [label, bytes, code] of /** @type {[string, () => Buffer, string][]} */ ([
    ['a truncated file', () => B.subarray(0, B.length >> 1), 'OUTRIGGER_WASM_COMPILE'],
    ['garbage', () => Buffer.from('#!/bin/sh\necho not wasm\n'), 'OUTRIGGER_WASM_COMPILE'],
    ['a module without a proxy-wasm ABI', () => Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), 'OUTRIGGER_WASM_NO_ABI'],
    ['a module whose proxy_on_configure returns false', () => readFileSync(path.join(FIXTURES, 'configure_false.wasm')), 'OUTRIGGER_FILTER_CONFIGURE'],
  ])) {
    it(`rejects ${label} and keeps serving the last good version`, async () => {
      const before = await filters(proxy);
      renameInto(file, bytes());
      const status = await until(async () => {
        const f = await filters(proxy);
        return f.filters[0].state === 'rejected' && f;
      }, 'the rejection');
      assert.ok(status.filters[0].last_error.startsWith(code), status.filters[0].last_error);
      assert.equal(status.generation, before.generation, 'no new generation');
      assert.equal(status.filters[0].sha256, before.filters[0].sha256, 'still the old sha256');
      const res = await get(proxy);
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-version-response'], 'a');
    });
  }

  it('a deleted file keeps its last good version and says so', async () => {
    rmSync(file);
    const status = await until(
      async () => {
        const f = await filters(proxy);
        return f.filters[0].state === 'missing' && f;
      },
      'state missing',
      6000,
    );
    assert.match(status.filters[0].last_error, /no such file/);
    assert.equal((await get(proxy)).headers['x-version-response'], 'a');
  });
});

describe('hot reload of the config', () => {
  let upstream;
  let proxy;
  let dir;
  const config = (filtersYaml, extra = '') =>
    `listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nupstream: ${upstream.url}\nfilters_dir: ${FIXTURES}\n${extra}filters:\n${filtersYaml}`;
  const append = (name, value) => `  - name: ${name}\n    file: append.wasm\n    config: { value: "${value}" }\n`;
  const edit = (text) => renameInto(proxy.configFile, text);
  const upstreamChain = async () => (await get(proxy)).headers['x-upstream-chain'];

  before(async () => {
    upstream = await startUpstream();
    dir = tempDir();
    proxy = await startProxy(`upstream: ${upstream.url}\nfilters_dir: ${FIXTURES}\nfilters:\n${append('one', 1)}${append('two', 2)}`, { dir });
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('applies a reorder', async () => {
    assert.equal(await upstreamChain(), '1,2');
    edit(config(append('two', 2) + append('one', 1)));
    await until(async () => (await upstreamChain()) === '2,1', 'the new order');
    const res = await get(proxy);
    assert.equal(res.headers['x-chain'], '1,2', 'response phase in reverse of the new order');
  });

  it('adds, removes and reconfigures filters', async () => {
    edit(config(append('one', 'uno') + append('three', 3)));
    await until(async () => (await upstreamChain()) === 'uno,3', 'the edited chain');
    const f = await filters(proxy);
    assert.deepEqual(
      f.filters.map((x) => x.name),
      ['one', 'three'],
    );
  });

  it('rejects an invalid edit and keeps the running chain', async () => {
    edit(config(append('one', 1) + append('two', 2)));
    await until(async () => (await upstreamChain()) === '1,2', 'a known chain');
    const gen = (await filters(proxy)).generation;
    for (const [bad, code] of [
      ['filters: [unclosed\n', 'OUTRIGGER_CONFIG_YAML'],
      [config(append('one', 1) + append('one', 2)), 'OUTRIGGER_CONFIG_INVALID'],
      [config(`${append('one', 1)}  - name: ghost\n    file: ghost.wasm\n`), 'OUTRIGGER_CONFIG_INVALID'],
      [config(append('one', 1), 'bogus_key: 1\n'), 'OUTRIGGER_CONFIG_INVALID'],
    ]) {
      writeFileSync(proxy.configFile, bad);
      const res = await request(`${proxy.admin}/reload`, { method: 'POST' });
      assert.equal(res.statusCode, 422);
      const body = /** @type {any} */ (await res.body.json());
      assert.equal(body.error.code, code, body.error.message);
      assert.equal(body.changed, false);
      assert.equal(await upstreamChain(), '1,2');
      assert.equal((await filters(proxy)).generation, gen);
    }
    assert.ok(proxy.logs.some((l) => l.code === 'OUTRIGGER_CONFIG_YAML' && /reload rejected, the running chain keeps serving/.test(l.msg)));
  });

  it('POST /reload answers with what changed', async () => {
    // Its own proxy without the file watcher: with it, a loaded machine lets the watcher apply the
    // edit before the POST arrives, and the POST rightly finds nothing left to change.
    const quiet = await startProxy(`upstream: ${upstream.url}\nfilters_dir: ${FIXTURES}\nfilters:\n${append('one', 1)}${append('two', 2)}`, {
      dir: tempDir(),
      watch: false,
    });
    try {
      writeFileSync(quiet.configFile, config(append('one', 1)));
      const res = await request(`${quiet.admin}/reload`, { method: 'POST' });
      const body = /** @type {any} */ (await res.body.json());
      assert.equal(res.statusCode, 200);
      assert.equal(body.changed, true);
      assert.deepEqual(body.changes, ['two: removed']);
      const again = /** @type {any} */ (await (await request(`${quiet.admin}/reload`, { method: 'POST' })).body.json());
      assert.equal(again.changed, false);
    } finally {
      await quiet.close();
    }
  });
});

describe('no leak across many swaps', () => {
  it('releases old generations and their instances', async () => {
    const upstream = await startUpstream();
    const dir = tempDir();
    const file = path.join(dir, 'stamp.wasm');
    writeFileSync(file, A);
    // No watcher: every reload below must be the one that swaps.
    const proxy = await startProxy(`upstream: ${upstream.url}\nfilters_dir: .\nfilters:\n  - name: stamp\n    file: stamp.wasm\n`, { dir, watch: false });
    try {
      const first = new WeakRef(proxy.running.manager.slots[0].filter);
      const settle = async () => {
        for (let i = 0; i < 5; i++) {
          global.gc();
          await new Promise((r) => setImmediate(r));
        }
      };
      // Warm up, then measure.
      for (let i = 0; i < 10; i++) {
        writeFileSync(file, i % 2 ? A : B);
        await proxy.running.reload();
        await get(proxy);
      }
      await settle();
      const baseline = process.memoryUsage().heapUsed;
      for (let i = 0; i < 200; i++) {
        writeFileSync(file, i % 2 ? A : B);
        const r = await proxy.running.reload();
        assert.equal(r.changed, true);
        if (i % 10 === 0) await get(proxy);
      }
      await settle();
      const growth = process.memoryUsage().heapUsed - baseline;
      assert.equal(first.deref(), undefined, 'the first instance was collected');
      assert.equal(proxy.running.manager.liveGenerations, 1, 'only the current generation is alive');
      assert.ok(growth < 8 * 1024 * 1024, `heap grew ${(growth / 1048576).toFixed(1)} MiB over 200 swaps`);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});
