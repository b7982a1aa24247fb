// Fixture files for `outrigger test`: a filter, its config and cases (a request, the upstream's
// answer, what must come out), in YAML, run through the harness. Every difference is reported with
// where it is ("response.headers.x-hello: expected "world", got absent"), not just "failed".
//
//   filter: ../filters/add_header.wasm      # relative to this file
//   config: { header: x-hello, value: world }
//   clusters: { auth: { status: 200, body: ok } }
//   cases:
//     - name: adds the header
//       request: { method: GET, path: /, headers: { accept: text/plain }, body: "" }
//       upstream: { status: 200, headers: { content-type: text/plain }, body: hello }
//       tick_ms: 0                           # virtual time to let pass while the request is open
//       expect:
//         request: { headers: { x-hello: world } }     # what the upstream received
//         response: { status: 200, headers: { x-hello: world, x-gone: null }, body: hello }
//         local_reply: null                  # or { status: 403, body: { contains: denied } }
//         logs: [ { level: info, contains: "adding x-hello" } ]
//         metrics: { requests: 1 }
//         shared_data: { count: "1" }
//
// Cases run in order on one instance (metrics and shared data carry over, as in the proxy).

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { OutriggerError } from '../errors.js';
import { loadFilter, type LogRecord, type RequestResult, type TestFilter } from './filter-harness.js';

export interface CaseResult {
  file: string;
  name: string;
  ok: boolean;
  /** One line per difference between what was expected and what happened. */
  differences: string[];
  ms: number;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = Record<string, Json>;

const CASE_KEYS = ['name', 'request', 'upstream', 'tick_ms', 'expect'];
const EXPECT_KEYS = ['request', 'response', 'local_reply', 'reset', 'logs', 'metrics', 'shared_data', 'faults'];
const FILE_KEYS = ['filter', 'config', 'vm_config', 'root_id', 'vm_id', 'on_error', 'debug', 'clusters', 'cases'];

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  return v === undefined ? 'absent' : JSON.stringify(v);
}

/** A string expectation: exact, or { contains }, or { matches } (a regular expression). */
function textMatches(expected: Json, actual: string | undefined): boolean {
  if (isObj(expected)) {
    if (actual === undefined) return false;
    if (typeof expected.contains === 'string') return actual.includes(expected.contains);
    if (typeof expected.matches === 'string') return new RegExp(expected.matches).test(actual);
    return false;
  }
  return actual === (expected === null ? undefined : String(expected));
}

function compareHeaders(where: string, expected: Json, actual: Record<string, string>, diffs: string[]): void {
  if (!isObj(expected)) {
    diffs.push(`${where}: the expectation must be a map of header name to value (null: absent)`);
    return;
  }
  for (const [k, v] of Object.entries(expected)) {
    const got = actual[k.toLowerCase()];
    if (!textMatches(v, got)) diffs.push(`${where}.${k}: expected ${v === null ? 'absent' : show(v)}, got ${show(got)}`);
  }
}

function compareMessage(
  where: string,
  expected: Json,
  actual: { status?: number; headers: Record<string, string>; body: string } | null,
  diffs: string[],
  extra: Record<string, string | undefined> = {},
): void {
  if (expected === null || expected === false) {
    if (actual !== null) diffs.push(`${where}: expected none, got ${actual.status !== undefined ? `status ${actual.status}` : 'one'}`);
    return;
  }
  if (!isObj(expected)) {
    diffs.push(`${where}: the expectation must be a map (status, headers, body) or null`);
    return;
  }
  if (actual === null) {
    diffs.push(`${where}: expected one, got none`);
    return;
  }
  for (const [k, v] of Object.entries(expected)) {
    if (k === 'headers') compareHeaders(`${where}.headers`, v, actual.headers, diffs);
    else if (k === 'status') {
      if (actual.status !== v) diffs.push(`${where}.status: expected ${show(v)}, got ${show(actual.status)}`);
    } else if (k === 'body') {
      if (!textMatches(v, actual.body)) diffs.push(`${where}.body: expected ${show(v)}, got ${show(actual.body)}`);
    } else if (k in extra) {
      if (!textMatches(v, extra[k])) diffs.push(`${where}.${k}: expected ${show(v)}, got ${show(extra[k])}`);
    } else
      diffs.push(
        `${where}.${k}: unknown expectation (expected one of status, headers, body${Object.keys(extra)
          .map((e) => `, ${e}`)
          .join('')})`,
      );
  }
}

function compareLogs(expected: Json, logs: LogRecord[], diffs: string[]): void {
  if (!Array.isArray(expected)) {
    diffs.push('logs: the expectation must be a list of { level?, contains } (or plain strings)');
    return;
  }
  for (const e of expected) {
    const want = typeof e === 'string' ? { contains: e } : isObj(e) ? e : null;
    if (want === null) {
      diffs.push(`logs: ${show(e)} is neither a string nor { level, contains }`);
      continue;
    }
    const hit = logs.some(
      (l) =>
        (want.level === undefined || l.level === want.level) &&
        textMatches(isObj(want.contains) ? want.contains : { contains: String(want.contains ?? '') }, l.msg),
    );
    if (!hit) {
      const seen = logs.map((l) => `${l.level}: ${l.msg}`).join(' | ') || 'no log lines';
      diffs.push(`logs: expected a ${want.level ?? 'log'} line containing ${show(want.contains)}, got ${seen}`);
    }
  }
}

async function runCase(filter: TestFilter, c: Obj, diffs: string[]): Promise<void> {
  for (const k of Object.keys(c)) if (!CASE_KEYS.includes(k)) diffs.push(`${k}: unknown case key (expected one of ${CASE_KEYS.join(', ')})`);
  const pending = filter.request((c.request ?? {}) as never, (c.upstream ?? undefined) as never);
  if (typeof c.tick_ms === 'number') await filter.tick(c.tick_ms);
  const r: RequestResult = await pending;
  const expect = c.expect ?? {};
  if (!isObj(expect)) {
    diffs.push('expect: must be a map');
    return;
  }
  for (const [k, v] of Object.entries(expect)) {
    switch (k) {
      case 'request':
        compareMessage('request', v, r.request, diffs, { method: r.request?.method, path: r.request?.path, authority: r.request?.authority });
        break;
      case 'response':
        compareMessage('response', v, r.response, diffs);
        break;
      case 'local_reply':
        compareMessage('local_reply', v, r.localReply, diffs);
        break;
      case 'reset':
        if (v === null || v === false ? r.reset !== null : r.reset === null)
          diffs.push(`reset: expected ${v ? 'a reset' : 'none'}, got ${show(r.reset ?? undefined)}`);
        break;
      case 'logs':
        compareLogs(v, r.logs, diffs);
        break;
      case 'faults':
        if (typeof v !== 'number') diffs.push('faults: expected a number');
        else if (r.faults.length !== v)
          diffs.push(`faults: expected ${v}, got ${r.faults.length}${r.faults.length ? ` (${r.faults.map((f) => f.message).join('; ')})` : ''}`);
        break;
      case 'metrics': {
        const m = filter.metrics();
        if (!isObj(v)) diffs.push('metrics: expected a map of metric name to value');
        else
          for (const [name, want] of Object.entries(v))
            if (JSON.stringify(m[name]) !== JSON.stringify(want)) diffs.push(`metrics.${name}: expected ${show(want)}, got ${show(m[name])}`);
        break;
      }
      case 'shared_data':
        if (!isObj(v)) diffs.push('shared_data: expected a map of key to value (null: absent)');
        else
          for (const [key, want] of Object.entries(v))
            if (!textMatches(want, filter.sharedData.get(key)))
              diffs.push(`shared_data.${key}: expected ${want === null ? 'absent' : show(want)}, got ${show(filter.sharedData.get(key))}`);
        break;
      default:
        diffs.push(`expect.${k}: unknown expectation (expected one of ${EXPECT_KEYS.join(', ')})`);
    }
  }
}

/** Runs every case of one fixture file. Throws OutriggerError when the file itself is unusable. */
export async function runFixtureFile(file: string): Promise<CaseResult[]> {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new OutriggerError('OUTRIGGER_TEST_FIXTURE', `${file}: ${(err as Error).message}`, 'a fixture file is YAML with filter, config and cases');
  }
  if (!isObj(doc) || typeof doc.filter !== 'string' || !Array.isArray(doc.cases))
    throw new OutriggerError(
      'OUTRIGGER_TEST_FIXTURE',
      `${file}: expected a map with "filter" (path of the .wasm) and "cases" (a list)`,
      'see README.md, "Testing a filter"',
    );
  const unknown = Object.keys(doc).filter((k) => !FILE_KEYS.includes(k));
  if (unknown.length)
    throw new OutriggerError('OUTRIGGER_TEST_FIXTURE', `${file}: unknown key ${unknown.map((k) => `"${k}"`).join(', ')}`, `expected ${FILE_KEYS.join(', ')}`);
  const wasm = path.resolve(path.dirname(file), doc.filter);
  let filter: TestFilter;
  try {
    filter = await loadFilter(wasm, {
      config: doc.config ?? undefined,
      vmConfig: doc.vm_config ?? undefined,
      rootId: typeof doc.root_id === 'string' ? doc.root_id : undefined,
      vmId: typeof doc.vm_id === 'string' ? doc.vm_id : undefined,
      onError: doc.on_error === 'fail_open' ? 'fail_open' : 'fail_closed',
      debug: doc.debug === true,
      clusters: (isObj(doc.clusters) ? doc.clusters : undefined) as never,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? `no such file ${wasm}` : e instanceof OutriggerError ? e.describe() : e.message;
    throw new OutriggerError(
      'OUTRIGGER_TEST_FIXTURE',
      `${file}: cannot start the filter: ${why}`,
      'build the filter first (outrigger build), then check the fixture\'s "filter" path and config',
    );
  }
  const results: CaseResult[] = [];
  try {
    for (let i = 0; i < doc.cases.length; i++) {
      const c = doc.cases[i];
      const started = performance.now();
      const diffs: string[] = [];
      const name = isObj(c) && typeof c.name === 'string' ? c.name : `case ${i + 1}`;
      if (!isObj(c)) diffs.push('a case must be a map (name, request, upstream, expect)');
      else
        try {
          await runCase(filter, c, diffs);
        } catch (err) {
          diffs.push(`the case could not run: ${(err as Error).message}`);
        }
      results.push({ file, name, ok: diffs.length === 0, differences: diffs, ms: performance.now() - started });
    }
  } finally {
    filter.close();
  }
  return results;
}
