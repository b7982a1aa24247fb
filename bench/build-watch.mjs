#!/usr/bin/env node
// Save-to-live with `outrigger build --watch`: a scaffold project (`outrigger new`), a running proxy
// watching its filters/, and N edits of assembly/filter.ts. For each edit: the time from the save to
// the first response served by the new version, and from the compiler finishing (the watcher's
// "built ... at" line) to that response. Prints p50 and max of both.
//
//   npm run build && node bench/build-watch.mjs [edits=10]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin/outrigger.js');
const EDITS = Number(process.argv[2] ?? 10);
const work = mkdtempSync(path.join(tmpdir(), 'outrigger-watch-bench-'));
const children = [];

function spawnLines(args, cwd) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines = [];
  let buf = '';
  child.stdout.on('data', (c) => {
    buf += c;
    for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) lines.push({ at: Date.now(), text: buf.slice(0, i) });
  });
  return lines;
}

async function until(fn, ms = 60_000) {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - start > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

try {
  spawn(process.execPath, [BIN, 'new', 'bench-filter'], { cwd: work, stdio: 'ignore' });
  await until(() => {
    try {
      return readFileSync(path.join(work, 'bench-filter/outrigger.yaml'), 'utf8');
    } catch {
      return null;
    }
  });
  const project = path.join(work, 'bench-filter');
  mkdirSync(path.join(project, 'node_modules'), { recursive: true });
  symlinkSync(ROOT, path.join(project, 'node_modules/outrigger'), 'dir');
  const yaml = readFileSync(path.join(project, 'outrigger.yaml'), 'utf8').replace('127.0.0.1:8080', '127.0.0.1:0').replace('127.0.0.1:9901', '127.0.0.1:0');
  writeFileSync(path.join(project, 'bench.yaml'), yaml);
  const file = path.join(project, 'assembly/filter.ts');
  const source = readFileSync(file, 'utf8');
  const watcher = spawnLines(['build', '--watch'], project);
  await until(() => watcher.some((l) => l.text.startsWith('watching ')), 120_000);
  const proxy = spawnLines(['start', '--config', 'bench.yaml'], project);
  const ready = JSON.parse((await until(() => proxy.find((l) => l.text.includes('"outrigger ready"')))).text);
  const url = `http://${ready.listen}/`;
  const saveToLive = [];
  const builtToLive = [];
  const compileMs = [];
  for (let n = 1; n <= EDITS; n++) {
    const builds = watcher.filter((l) => l.text.startsWith('built ')).length;
    const tag = `world-v${n}`;
    const saved = Date.now();
    writeFileSync(file, source.replace('addResponseHeader(this.root_.header, this.root_.value);', `addResponseHeader(this.root_.header, "${tag}");`));
    const live = await until(async () => {
      const res = await fetch(url);
      await res.arrayBuffer();
      return res.headers.get('x-hello') === tag && Date.now();
    });
    const built = await until(() => watcher.filter((l) => l.text.startsWith('built '))[builds]);
    const doneAt = Date.parse(/ at (\S+)$/.exec(built.text)[1]);
    compileMs.push(Number(/, (\d+) ms\)/.exec(built.text)[1]));
    saveToLive.push(live - saved);
    builtToLive.push(live - doneAt);
    console.log(`edit ${n}: save->live ${live - saved} ms (compile ${compileMs.at(-1)} ms), compiler done->live ${live - doneAt} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log(
    `save->live p50 ${pct(saveToLive, 0.5)} ms max ${Math.max(...saveToLive)} ms; compiler done->live p50 ${pct(builtToLive, 0.5)} ms max ${Math.max(...builtToLive)} ms; compile p50 ${pct(compileMs, 0.5)} ms (${EDITS} edits)`,
  );
} finally {
  for (const c of children) c.kill();
  rmSync(work, { recursive: true, force: true });
}
