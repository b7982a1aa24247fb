// `outrigger test [FILE|DIR ...]`: runs fixture files (*.test.yaml) through the test harness and
// prints one line per case, with every difference under a failing one. No arguments: every
// *.test.yaml under the current directory (node_modules skipped). Exit status 1 when a case fails.

import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { OutriggerError } from '../errors.js';
import { runFixtureFile, type CaseResult } from '../testing/fixture-runner.js';

const FIXTURE_SUFFIX = '.test.yaml';

function fixturesUnder(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) fixturesUnder(p, out);
    else if (e.name.endsWith(FIXTURE_SUFFIX) || e.name.endsWith('.test.yml')) out.push(p);
  }
}

export function findFixtures(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of args.length ? args : ['.']) {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(a);
    } catch {
      throw new OutriggerError(
        'OUTRIGGER_TEST_FIXTURE',
        `${a}: no such file or directory`,
        `pass fixture files (*${FIXTURE_SUFFIX}) or directories holding them`,
      );
    }
    if (st.isDirectory()) fixturesUnder(a, out);
    else out.push(a);
  }
  if (out.length === 0)
    throw new OutriggerError(
      'OUTRIGGER_TEST_FIXTURE',
      `no *${FIXTURE_SUFFIX} files under ${args.join(', ') || '.'}`,
      'write one (see README.md, "Testing a filter") or name the files',
    );
  return out.sort();
}

/** Runs the fixtures; resolves with the results after printing them to `write`. */
export async function runTests(args: readonly string[], write: (s: string) => void): Promise<CaseResult[]> {
  const started = performance.now();
  const all: CaseResult[] = [];
  for (const file of findFixtures(args)) {
    const results = await runFixtureFile(file);
    const rel = path.relative(process.cwd(), file);
    const shown = rel && !rel.startsWith('..') ? rel : file;
    for (const r of results) {
      write(`${r.ok ? 'ok     ' : 'not ok '} ${shown} › ${r.name} (${r.ms.toFixed(1)} ms)\n`);
      for (const d of r.differences) write(`         ${d}\n`);
    }
    all.push(...results);
  }
  const failed = all.filter((r) => !r.ok).length;
  write(`${all.length - failed} passed, ${failed} failed (${(performance.now() - started).toFixed(0)} ms)\n`);
  return all;
}
