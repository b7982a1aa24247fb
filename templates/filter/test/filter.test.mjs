// Runs the built filter (npm test builds it first) in Outrigger's test harness: the proxy's own host
// code, no network, no proxy process.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadFilter } from 'outrigger/testing';

const wasm = new URL('../filters/{{file}}', import.meta.url);

test('adds the configured response header', { timeout: 30_000 }, async () => {
  const f = await loadFilter(wasm, { config: { header: 'x-hello', value: 'world' } });
  try {
    const r = await f.request({ method: 'GET', path: '/', headers: {} });
    assert.equal(r.response.headers['x-hello'], 'world');
  } finally {
    await f.close();
  }
});

test('takes the header from its config', { timeout: 30_000 }, async () => {
  const f = await loadFilter(wasm, { config: { header: 'x-team', value: 'blue' } });
  try {
    const r = await f.request({ method: 'GET', path: '/', headers: {} });
    assert.equal(r.response.headers['x-team'], 'blue');
    assert.equal(r.response.headers['x-hello'], undefined);
  } finally {
    await f.close();
  }
});
