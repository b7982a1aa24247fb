// Load-time cost of source frames under the sandbox (not a test): a debug build's source map is traced
// through the sandbox's rewrite at load (host/abi/rewrite-offsets.ts). For the examples' debug builds
// and a big generated filter: compileFilter (read, instrument, cap, compile) of the module with its map
// beside it vs the same bytes without it, interleaved, medians of the paired difference, and the
// alignment on its own. Requests pay nothing: a frame is looked up only when a filter faults.
//
//   node bench/source-map-load.mjs [--runs 15] [--functions 600]        (needs npm run build)
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RewriteOffsets } from '../dist/host/abi/rewrite-offsets.js';
import { instrumentModule } from '../dist/host/filters/instrument.js';
import { compileFilter, readFilterFile } from '../dist/host/filters/load-filter.js';
import { capMemory } from '../dist/host/filters/memory-cap.js';
import { buildFilter } from '../scripts/build-filters.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({ options: { runs: { type: 'string', default: '15' }, functions: { type: 'string', default: '600' } } });
const RUNS = Number(opts.runs);
const FUNCTIONS = Number(opts.functions);

const dir = mkdtempSync(path.join(tmpdir(), 'outrigger-srcmap-'));
const withMap = path.join(dir, 'with');
const withoutMap = path.join(dir, 'without');
mkdirSync(withMap);
mkdirSync(withoutMap);

/** A filter whose every function is reachable (a header picks one), so the debug build keeps them all. */
function bigFilterSource(n) {
  const fns = Array.from(
    { length: n },
    (_, i) => `function f${i}(s: string, k: i32): i32 {
  let acc = k + ${i};
  for (let j = 0; j < s.length; j++) {
    if ((s.charCodeAt(j) & ${(i % 7) + 1}) != 0) acc = acc * 31 + j; else acc ^= ${i};
  }
  const parts = s.split("/");
  return acc + parts.length + (parts.length > 1 ? parts[1].length : 0);
}`,
  ).join('\n');
  const cases = Array.from({ length: n }, (_, i) => `    case ${i}: return f${i}(path, which);`).join('\n');
  return `export * from "../../../sdk/assembly/exports";
import { FilterHeadersStatus, HttpContext, RootContext, addResponseHeader, getRequestHeader, registerRootContext } from "../../../sdk/assembly";
${fns}
function pick(which: i32, path: string): i32 {
  switch (which) {
${cases}
  }
  return 0;
}
class BigRoot extends RootContext {
  createHttpContext(contextId: u32): HttpContext { return new Big(contextId, this); }
}
class Big extends HttpContext {
  onRequestHeaders(n: u32, eos: bool): FilterHeadersStatus {
    const w = getRequestHeader("x-which");
    const p = getRequestHeader(":path");
    if (w !== null && p !== null) addResponseHeader("x-big", pick(I32.parseInt(w), p).toString());
    return FilterHeadersStatus.Continue;
  }
}
registerRootContext("", (id: u32): RootContext => new BigRoot(id));
`;
}

/** @type {{ name: string, entry: string, with: string, without: string }[]} */
const modules = [];
for (const name of readdirSync(path.join(ROOT, 'examples')).sort()) {
  const entry = path.join(ROOT, 'examples', name, 'filter.ts');
  try {
    readFileSync(entry);
  } catch {
    continue;
  }
  modules.push({ name, entry, with: '', without: '' });
}
// The generated source sits in the repository (gitignored bench/results/) so its SDK import resolves.
const bigDir = path.join(ROOT, 'bench', 'results', 'big-filter');
mkdirSync(bigDir, { recursive: true });
const bigEntry = path.join(bigDir, 'big_debug.ts');
writeFileSync(bigEntry, bigFilterSource(FUNCTIONS));
modules.push({ name: `generated (${FUNCTIONS} functions)`, entry: bigEntry, with: '', without: '' });

for (const m of modules) {
  const file = `${m.name.replace(/\W+/g, '_')}.wasm`;
  await buildFilter(m.entry, path.join(withMap, file), { target: 'debug', sourceMap: true });
  copyFileSync(path.join(withMap, file), path.join(withoutMap, file)); // no .map beside it: no alignment
  m.with = path.join(withMap, file);
  m.without = path.join(withoutMap, file);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};
const time = async (fn) => {
  const t = performance.now();
  await fn();
  return performance.now() - t;
};

console.log(`${RUNS} interleaved runs each; ms, medians\n`);
console.log('| module (debug build) | size | instructions matched | load with map | load without | paired diff | alignment alone |');
console.log('|---|---|---|---|---|---|---|');
for (const m of modules) {
  const bytes = readFileSync(m.with);
  const sandboxed = capMemory(await instrumentModule(bytes, 'x', m.with), 64, 'x', m.with);
  const offsets = RewriteOffsets.align(bytes, sandboxed);
  const a = [];
  const b = [];
  const d = [];
  const al = [];
  for (let r = 0; r < RUNS + 2; r++) {
    const first = r % 2 === 0;
    const load = (f) => time(async () => compileFilter(await readFilterFile(f, 'x'), 'x', f, 64));
    const x = first ? await load(m.with) : 0;
    const y = await load(m.without);
    const x2 = first ? x : await load(m.with);
    const z = await time(async () => RewriteOffsets.align(bytes, sandboxed));
    if (r < 2) continue; // warm-up
    a.push(x2);
    b.push(y);
    d.push(x2 - y);
    al.push(z);
  }
  console.log(
    `| ${m.name} | ${(bytes.length / 1024).toFixed(0)} KiB | ${offsets ? `${offsets.matched}/${offsets.total}` : 'not aligned'} | ${median(a).toFixed(1)} | ${median(b).toFixed(1)} | ${median(d).toFixed(1)} | ${median(al).toFixed(1)} |`,
  );
}
rmSync(dir, { recursive: true, force: true });
