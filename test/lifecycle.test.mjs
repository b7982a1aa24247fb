// The process as an operator sees it: the built-in demo, graceful shutdown on SIGTERM.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { request } from 'undici';
import { demoConfig } from '../dist/host/config/demo-config.js';
import { startOutrigger } from '../dist/host/server.js';
import { captureLogger, FILTERS, tempDir } from './helpers/proxy.mjs';
import { spawnOutrigger } from './helpers/cli.mjs';
import { startUpstream } from './helpers/upstream.mjs';

describe('the built-in demo (npm start)', () => {
  let running;
  after(() => running?.close());

  it('shows every example filter acting on a request to the echo upstream', async () => {
    const config = demoConfig();
    config.listen = { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' };
    config.admin = { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' };
    running = await startOutrigger(config, { logger: captureLogger().logger });
    const res = await request(`http://${running.address}/anything`);
    const body = await res.body.text();
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-hello'], 'world');
    assert.match(/** @type {string} */ (res.headers['x-request-id']), /\S+/);
    assert.match(body, /body rewritten by the body-rewrite filter/);
    assert.equal(res.headers['content-length'], String(Buffer.byteLength(body)));
    const echoed = JSON.parse(body);
    assert.equal(echoed.headers['x-hello'], 'world');
    assert.equal(echoed.headers['x-request-id'], res.headers['x-request-id']);
    const denied = await request(`http://${running.address}/private/data`);
    assert.equal(denied.statusCode, 401);
    assert.match(/** @type {string} */ (denied.headers['x-request-id']), /\S+/, 'request-id (before auth) tags the 401 too');
    await denied.body.text();
  });
});

describe('graceful shutdown', () => {
  it('on SIGTERM finishes the in-flight request, refuses new ones, and exits 0', async () => {
    /** @type {any} */
    let release;
    const upstream = await startUpstream((_req, res) => {
      new Promise((r) => (release = r)).then(() => res.end('finished after SIGTERM'));
    });
    const dir = tempDir();
    const file = path.join(dir, 'c.yaml');
    writeFileSync(
      file,
      `listen: 127.0.0.1:0\nadmin: false\nupstream: ${upstream.url}\nfilters:\n  - name: hello\n    file: ${FILTERS}/add_header.wasm\n    config: { header: x-a, value: b }\n`,
    );
    const proc = spawnOutrigger(['start', '--config', file]);
    const address = (await proc.waitFor((l) => l.msg === 'outrigger ready')).listen;
    const inflight = request(`http://${address}/slow`);
    while (!release) await new Promise((r) => setTimeout(r, 10));
    proc.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    await assert.rejects(request(`http://${address}/new`, { reset: true }), /ECONNREFUSED/);
    release();
    const res = await inflight;
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'finished after SIGTERM');
    assert.equal(res.headers['x-a'], 'b');
    assert.equal(await proc.exited, 0);
    assert.ok(proc.lines.some((l) => l.msg === 'shut down'));
    await upstream.close();
  });
});

describe('SIGHUP', () => {
  it('re-reads the config file and applies it', async () => {
    const upstream = await startUpstream();
    const dir = tempDir();
    const file = path.join(dir, 'c.yaml');
    const config = (value) =>
      `listen: 127.0.0.1:0\nadmin: false\nupstream: ${upstream.url}\nfilters:\n  - name: hello\n    file: ${FILTERS}/add_header.wasm\n    config: { header: x-a, value: ${value} }\n`;
    writeFileSync(file, config('before'));
    // --no-watch: only the signal can cause the reload.
    const proc = spawnOutrigger(['start', '--no-watch', '--config', file]);
    try {
      const ready = await proc.waitFor((l) => l.msg === 'outrigger ready');
      const first = await request(`http://${ready.listen}/`);
      await first.body.text();
      assert.equal(first.headers['x-a'], 'before');
      writeFileSync(file, config('after!'));
      await new Promise((r) => setTimeout(r, 300));
      const unchanged = await request(`http://${ready.listen}/`);
      await unchanged.body.text();
      assert.equal(unchanged.headers['x-a'], 'before', 'no reload without the signal');
      proc.child.kill('SIGHUP');
      await proc.waitFor((l) => l.msg === 'generation 2 active');
      const second = await request(`http://${ready.listen}/`);
      await second.body.text();
      assert.equal(second.headers['x-a'], 'after!');
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
      await upstream.close();
    }
  });
});
