// `outrigger start --inspect`: the inspector on loopback reports the filter's wasm script with an
// absolute source map URL (what DevTools needs to show and step through the .ts source), and the
// map resolves the script's code to the filter's own file. Driven over the inspector's websocket.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'undici';
import { spawnOutrigger } from './helpers/cli.mjs';
import { FIXTURES, tempDir } from './helpers/proxy.mjs';

test('start --inspect: the wasm script is reported with a file: source map naming the filter source', { timeout: 45_000 }, async () => {
  const dir = tempDir();
  const config = path.join(dir, 'outrigger.yaml');
  writeFileSync(
    config,
    `listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nupstream: builtin:echo\nfilters_dir: ${FIXTURES}\nfilters:\n  - name: mapped\n    file: trap_debug.wasm\n`,
  );
  const proc = spawnOutrigger(['start', '--inspect', '--inspect-port', '0', '--config', config]);
  let ws;
  try {
    const line = await proc.waitFor((l) => l.code === 'OUTRIGGER_INSPECT');
    assert.match(line.inspector, /^ws:\/\/127\.0\.0\.1:\d+\//);
    await proc.waitFor((l) => l.msg === 'outrigger ready');
    ws = new WebSocket(line.inspector);
    await new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve, { once: true });
      ws.addEventListener('error', reject, { once: true });
    });
    /** @type {any[]} */
    const scripts = [];
    ws.addEventListener('message', (ev) => {
      const msg = JSON.parse(String(ev.data));
      if (msg.method === 'Debugger.scriptParsed' && msg.params.scriptLanguage === 'WebAssembly') scripts.push(msg.params);
    });
    ws.send(JSON.stringify({ id: 1, method: 'Debugger.enable' }));
    const deadline = Date.now() + 20_000;
    while (!scripts.some((s) => s.sourceMapURL?.startsWith('file://')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    // The module as first compiled (to read its sections) is reported too, with the build's relative URL.
    const mapped = scripts.find((s) => s.sourceMapURL?.startsWith('file://') && s.sourceMapURL.endsWith('trap_debug.wasm.map'));
    assert.ok(mapped, JSON.stringify(scripts.map((s) => [s.url, s.sourceMapURL])));
    assert.match(mapped.sourceMapURL, /^file:\/\//);
    const map = JSON.parse(readFileSync(fileURLToPath(mapped.sourceMapURL), 'utf8'));
    const i = map.sources.indexOf('test/fixtures/filters/trap_debug.ts');
    assert.ok(i >= 0, 'the map lists the filter source');
    assert.match(map.sourcesContent[i], /TRAP-LINE/, 'and embeds its text, so DevTools shows it without the file');
  } finally {
    ws?.close();
    proc.child.kill('SIGTERM');
    await proc.exited;
  }
});
