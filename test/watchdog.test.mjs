// The last fence for the process (issue 11, point 3): a thread that is not the event loop ends a
// process whose loop is blocked, naming what was running; SIGTERM takes effect within
// drain_timeout_ms plus a second even while a filter loops. Real `outrigger start` processes.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { parseConfig } from '../dist/host/config/load-config.js';
import { spawnOutrigger } from './helpers/cli.mjs';
import { FIXTURES, tempDir } from './helpers/proxy.mjs';
import { startUpstream } from './helpers/upstream.mjs';

/** spin.wasm loops forever in on_request_headers for /spin; cpu_ms far above watchdog_ms, so the
 * per-callback deadline does not stop it first and the watchdog path is what is tested. */
function writeConfig(upstream, extra, cpuMs = 600_000) {
  const file = path.join(tempDir(), 'c.yaml');
  writeFileSync(
    file,
    `listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nupstream: ${upstream.url}\n${extra}filters:\n  - name: spinner\n    file: ${FIXTURES}/spin.wasm\n    config: { where: request_headers }\n    limits: { cpu_ms: ${cpuMs} }\n    on_error: fail_closed\n`,
  );
  return file;
}

const seconds = (t0) => (performance.now() - t0) / 1000;

// Each test spawns a process; start-up (binaryen, compiles) is slow on a loaded machine: per-test bounds.
const T = { timeout: 40_000 };

describe('watchdog', () => {
  it('ends a process whose event loop the host blocks (test hook), logging what ran, with SIGKILL', T, async () => {
    const upstream = await startUpstream();
    const proc = spawnOutrigger(['start', '--config', writeConfig(upstream, 'watchdog_ms: 2000\n')], { env: { OUTRIGGER_TEST_HOOKS: '1' } });
    try {
      const ready = await proc.waitFor((l) => l.msg === 'outrigger ready');
      const ok = await request(`http://${ready.listen}/fine`);
      assert.equal(ok.statusCode, 200);
      await ok.body.text();
      const t0 = performance.now();
      // Blocks for a minute unless the watchdog ends the process.
      request(`http://${ready.listen}/x`, { headers: { 'x-outrigger-test-block-ms': '60000' } }).catch(() => {});
      await proc.exited;
      const elapsed = seconds(t0);
      assert.equal(proc.status.signal, 'SIGKILL');
      assert.ok(elapsed < 20, `ended after ${elapsed}s`);
      const line = proc.lines.find((l) => l.code === 'OUTRIGGER_WATCHDOG');
      assert.ok(line, 'the watchdog logged a line before ending the process');
      assert.equal(line.level, 60);
      assert.equal(line.filter, null, 'no filter callback was running: the host blocked the loop');
      assert.ok(line.blockedMs >= 2000, `blockedMs ${line.blockedMs}`);
      assert.match(line.msg, /event loop blocked/);
    } finally {
      proc.child.kill('SIGKILL');
      await upstream.close();
    }
  });

  it('names the filter, callback and request id when a filter blocks the loop', T, async () => {
    const upstream = await startUpstream();
    const proc = spawnOutrigger(['start', '--config', writeConfig(upstream, 'watchdog_ms: 2000\n')]);
    try {
      const ready = await proc.waitFor((l) => l.msg === 'outrigger ready');
      const t0 = performance.now();
      await assert.rejects(request(`http://${ready.listen}/spin`, { headers: { 'x-request-id': 'spin-test-1' } }), 'the connection dies with the process');
      await proc.exited;
      const elapsed = seconds(t0);
      assert.ok(elapsed < 20, `ended after ${elapsed}s`);
      const line = proc.lines.find((l) => l.code === 'OUTRIGGER_WATCHDOG');
      assert.ok(line, 'watchdog line');
      assert.equal(line.filter, 'spinner');
      assert.equal(line.callback, 'proxy_on_request_headers');
      assert.equal(line.reqId, 'spin-test-1', 'the id the request carried');
      assert.equal(proc.status.signal, 'SIGKILL');
    } finally {
      proc.child.kill('SIGKILL');
      await upstream.close();
    }
  });

  it('SIGTERM while a filter loops takes effect within drain_timeout_ms plus a second', T, async () => {
    const upstream = await startUpstream();
    // A blocked loop never runs the SIGTERM handler: the watchdog (2 s) ends the process within
    // drain_timeout_ms + 1 s.
    const proc = spawnOutrigger(['start', '--config', writeConfig(upstream, 'watchdog_ms: 2000\ndrain_timeout_ms: 1000\n')]);
    try {
      const ready = await proc.waitFor((l) => l.msg === 'outrigger ready');
      request(`http://${ready.listen}/spin`).catch(() => {});
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      proc.child.kill('SIGTERM');
      await proc.exited;
      const elapsed = seconds(t0);
      // drain 1 s + grace 1 s, with a wide margin for a loaded machine.
      assert.ok(elapsed < 10, `the process ended ${elapsed}s after SIGTERM`);
      assert.equal(proc.status.signal, 'SIGKILL');
      assert.ok(proc.lines.some((l) => l.code === 'OUTRIGGER_WATCHDOG' && l.filter === 'spinner'));
    } finally {
      proc.child.kill('SIGKILL');
      await upstream.close();
    }
  });

  it('SIGTERM with a drain that never ends: the shutdown deadline ends the process', T, async () => {
    /** @type {import("node:http").ServerResponse | null} */
    let hold = null;
    const upstream = await startUpstream((_req, res) => {
      hold = res;
    });
    const proc = spawnOutrigger(['start', '--config', writeConfig(upstream, 'watchdog_ms: 0\ndrain_timeout_ms: 500\n')], {
      env: { OUTRIGGER_TEST_HOOKS: '1' },
    });
    try {
      const ready = await proc.waitFor((l) => l.msg === 'outrigger ready');
      request(`http://${ready.listen}/slow`).catch(() => {});
      while (!hold) await new Promise((r) => setTimeout(r, 10));
      // Accepted now, it blocks the loop for a minute 400 ms later: in the middle of the drain,
      // when no new connection is accepted (watchdog_ms 0: the loop check is off).
      request(`http://${ready.listen}/x`, { headers: { 'x-outrigger-test-block-ms': '60000', 'x-outrigger-test-block-delay-ms': '400' } }).catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
      const t0 = performance.now();
      proc.child.kill('SIGTERM');
      await proc.exited;
      const elapsed = seconds(t0);
      assert.ok(elapsed < 10, `ended ${elapsed}s after SIGTERM`);
      const line = proc.lines.find((l) => l.code === 'OUTRIGGER_SHUTDOWN_DEADLINE');
      assert.ok(line, 'the watchdog thread logged the overrun');
      assert.equal(proc.status.signal, 'SIGKILL');
      assert.ok(proc.lines.some((l) => l.msg === 'shutting down: draining in-flight requests'));
    } finally {
      proc.child.kill('SIGKILL');
      /** @type {any} */ (hold)?.destroy();
      await upstream.close();
    }
  });

  it('watchdog_ms is validated', T, () => {
    const yaml = (v) => `upstream: http://127.0.0.1:1\nwatchdog_ms: ${v}\n`;
    assert.equal(parseConfig(yaml(0), '/c.yaml').watchdogMs, 0);
    assert.equal(parseConfig(yaml(250), '/c.yaml').watchdogMs, 250);
    assert.equal(parseConfig('upstream: http://127.0.0.1:1\n', '/c.yaml').watchdogMs, 5000);
    for (const [v, got] of [
      ['-5', 'number -5'],
      ['1.5', 'number 1.5'],
      ['soon', 'string "soon"'],
    ])
      assert.throws(
        () => parseConfig(yaml(v), '/c.yaml'),
        (/** @type {any} */ err) => {
          assert.equal(err.code, 'OUTRIGGER_CONFIG_INVALID');
          assert.match(
            err.message,
            new RegExp(`/c\\.yaml:2:\\d+: watchdog_ms: expected a whole number of milliseconds \\(0 turns the watchdog off\\), got ${got.replace('.', '\\.')}`),
          );
          return true;
        },
      );
  });
});
