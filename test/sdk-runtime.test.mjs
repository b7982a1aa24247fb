// The SDK's runtime under real traffic: context routing with many requests in flight (the context
// table grows, shrinks and reuses slots) and garbage collection at the end of callbacks (filters
// build with AssemblyScript's minimal runtime, so the SDK decides when to collect).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { FILTERS, withProxy } from './helpers/proxy.mjs';

const yaml = (upstream) => `
upstream: ${upstream.url}
filters_dir: ${FILTERS}
filters:
  - name: request-id
    file: request_id.wasm
  - name: auth
    file: api_key_auth.wasm
    config: { keys: [k1] }
  - name: hello
    file: add_header.wasm
    config: { header: x-hello, value: world }
  - name: rewrite
    file: body_rewrite.wasm
    config: { from: hello, to: howdy }
`;

/** Runs `total` requests, `concurrency` at a time; returns their results in order. */
async function run(total, concurrency, one) {
  const out = new Array(total);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        out[i] = await one(i);
      }
    }),
  );
  return out;
}

async function filterMemory(admin) {
  const res = await request(`${admin}/filters`);
  const body = await res.body.json();
  return Object.fromEntries(body.filters.map((f) => [f.name, f.memory_bytes]));
}

describe('SDK runtime', () => {
  // The upstream answers slowly enough that every request of a burst is in flight at once.
  const env = withProxy(yaml, {
    handler: (req, res) => {
      const id = req.headers['x-request-id'] ?? '';
      const body = `hello ${id}`;
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      }, req.url === '/slow' ? 150 : 0);
    },
  });

  it('keeps 400 concurrent requests apart: each response carries its own request id', async () => {
    const agent = new Agent({ connections: 400 });
    try {
      const results = await run(400, 400, async () => {
        const res = await request(`${env.proxy.url}/slow`, { headers: { 'x-api-key': 'k1' }, dispatcher: agent });
        return { status: res.statusCode, id: res.headers['x-request-id'], body: await res.body.text() };
      });
      const ids = new Set();
      for (const r of results) {
        assert.equal(r.status, 200);
        assert.ok(r.id, 'response has x-request-id');
        // The upstream echoed the id it received; body-rewrite turned "hello" into "howdy".
        assert.equal(r.body, `howdy ${r.id}`);
        ids.add(r.id);
      }
      assert.equal(ids.size, 400, 'every request got its own id');
    } finally {
      await agent.close();
    }
  });

  it('collects garbage: filter memory stops growing under sustained traffic', async () => {
    const burst = () =>
      run(3000, 20, async (i) => {
        const res = await request(`${env.proxy.url}/gc/${i}`, { headers: { 'x-api-key': i % 10 ? 'k1' : 'wrong' } });
        await res.body.text();
        return res.statusCode;
      });
    const first = await burst();
    assert.equal(first.filter((s) => s === 200).length, 2700);
    assert.equal(first.filter((s) => s === 403).length, 300);
    const warm = await filterMemory(env.proxy.admin);
    await burst();
    await burst();
    const later = await filterMemory(env.proxy.admin);
    // Without collection each filter would keep every request's context, strings and buffers:
    // 6000 more requests add well over a 64 KiB page to every one of them.
    for (const name of Object.keys(warm)) assert.equal(later[name], warm[name], `${name}: ${warm[name]} -> ${later[name]} bytes`);
  });
});
