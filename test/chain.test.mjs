// The filter chain end to end: order, configuration, local replies, what reaches the upstream.
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { FIXTURES, FILTERS, withProxy } from './helpers/proxy.mjs';

describe('filter chain', () => {
  const env = withProxy(
    (upstream) => `
upstream: ${upstream.url}
filters_dir: ${FIXTURES}
filters:
  - name: first
    file: append.wasm
    config: { value: a }
  - name: second
    file: append.wasm
    config: { value: b }
  - name: hello
    file: ${FILTERS}/add_header.wasm
    config: { header: x-hello, value: from-config }
`,
  );

  it('runs the request phase in order and the response phase in reverse', async () => {
    const res = await request(`${env.proxy.url}/order`);
    await res.body.text();
    assert.equal(res.statusCode, 200);
    // Upstream saw the request after first then second appended to x-chain.
    assert.equal(env.upstream.seen.at(-1).headers['x-chain'], 'a,b');
    // The upstream echoes its x-chain into x-upstream-chain; the response x-chain was appended to
    // by second, then first.
    assert.equal(res.headers['x-upstream-chain'], 'a,b');
    assert.equal(res.headers['x-chain'], 'b,a');
  });

  it('passes each filter its own config', async () => {
    const res = await request(`${env.proxy.url}/config`);
    await res.body.text();
    assert.equal(res.headers['x-hello'], 'from-config');
    assert.equal(env.upstream.seen.at(-1).headers['x-hello'], 'from-config');
  });

  it('forwards method, path, query, body and host, and sets x-forwarded-*', async () => {
    const res = await request(`${env.proxy.url}/echo/path?q=1&r=%20`, {
      method: 'POST',
      body: 'payload',
      headers: { 'x-forwarded-for': '10.9.8.7', 'content-type': 'text/plain' },
    });
    const echoed = /** @type {any} */ (await res.body.json());
    assert.equal(echoed.method, 'POST');
    assert.equal(echoed.url, '/echo/path?q=1&r=%20');
    assert.equal(echoed.body, 'payload');
    assert.equal(echoed.headers['x-forwarded-for'], '10.9.8.7, 127.0.0.1');
    assert.equal(echoed.headers['x-forwarded-proto'], 'http');
    assert.equal(echoed.headers.host, new URL(env.proxy.url).host);
  });

  it('drops hop-by-hop headers and the ones Connection names', async () => {
    // node:http sends the Connection header exactly as given (undici rewrites it).
    const echoed = await new Promise((resolve, reject) => {
      const req = http.get(
        `${env.proxy.url}/hop`,
        {
          headers: { connection: 'keep-alive, x-private-hop', 'x-private-hop': 'secret', 'proxy-authorization': 'Basic x', 'x-kept': 'yes' },
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
        },
      );
      req.on('error', reject);
    });
    assert.equal(
      env.upstream.seen.at(-1).rawHeaders.some((h) => /x-private-hop/i.test(h)),
      false,
    );
    assert.equal(echoed.headers['x-private-hop'], undefined);
    assert.equal(echoed.headers['proxy-authorization'], undefined);
    assert.equal(echoed.headers['x-kept'], 'yes');
  });

  it('reports each filter on the admin API', async () => {
    const res = await request(`${env.proxy.admin}/filters`);
    const body = /** @type {any} */ (await res.body.json());
    assert.deepEqual(
      body.filters.map((f) => [f.name, f.state]),
      [
        ['first', 'active'],
        ['second', 'active'],
        ['hello', 'active'],
      ],
    );
    assert.match(body.filters[0].sha256, /^[0-9a-f]{64}$/);
  });
});

describe('many requests at once', () => {
  const env = withProxy(
    (upstream) => `
upstream: ${upstream.url}
filters:
  - name: request-id
    file: ${FILTERS}/request_id.wasm
  - name: first
    file: ${FIXTURES}/append.wasm
    config: { value: a }
`,
  );

  it("keeps each request's headers its own when their chains run together", async () => {
    // 60 connections at once: the chains of the requests read in one turn run together, filter by
    // filter (chain-batch.ts); each response must carry the id its own request went upstream with.
    const agent = new Agent({ connections: 64 });
    try {
      // Connections first, so the burst arrives in as few turns as possible.
      await Promise.all(Array.from({ length: 60 }, async () => (await request(`${env.proxy.url}/warm`, { dispatcher: agent })).body.dump()));
      const results = await Promise.all(
        Array.from({ length: 60 }, async (_, i) => {
          const res = await request(`${env.proxy.url}/r/${i}`, { dispatcher: agent, headers: i % 3 === 0 ? { 'x-request-id': `client-${i}` } : {} });
          return { i, id: res.headers['x-request-id'], chain: res.headers['x-chain'], echo: /** @type {any} */ (await res.body.json()) };
        }),
      );
      for (const r of results) {
        assert.equal(r.echo.url, `/r/${r.i}`);
        assert.equal(r.echo.headers['x-request-id'], r.id, `request ${r.i}: the response id is not the one its request carried`);
        if (r.i % 3 === 0) assert.equal(r.id, `client-${r.i}`, 'a client id is kept');
        assert.equal(r.echo.headers['x-chain'], 'a');
        assert.equal(r.chain, 'a');
      }
      assert.equal(new Set(results.map((r) => r.id)).size, 60, 'every request has its own id');
    } finally {
      await agent.close();
    }
  });
});

describe('local responses', () => {
  const env = withProxy(
    (upstream) => `
upstream: ${upstream.url}
filters_dir: ${FILTERS}
filters:
  - name: auth
    file: api_key_auth.wasm
    config: { header: x-api-key, keys: [k1, k2] }
  - name: after-auth
    file: add_header.wasm
    config: { header: x-after, value: ran }
`,
  );

  it('answers 401 without calling the upstream or the rest of the chain', async () => {
    const before = env.upstream.seen.length;
    const res = await request(`${env.proxy.url}/secret`);
    assert.equal(res.statusCode, 401);
    assert.equal(await res.body.text(), 'missing API key\n');
    assert.equal(res.headers['www-authenticate'], 'ApiKey');
    assert.equal(res.headers['content-length'], '16');
    assert.equal(res.headers['x-after'], undefined);
    assert.equal(env.upstream.seen.length, before);
  });

  it('answers 403 for a wrong key and lets a right one through without the key', async () => {
    const bad = await request(`${env.proxy.url}/secret`, { headers: { 'x-api-key': 'nope' } });
    assert.equal(bad.statusCode, 403);
    await bad.body.text();
    const good = await request(`${env.proxy.url}/secret`, { headers: { 'x-api-key': 'k2' } });
    assert.equal(good.statusCode, 200);
    const echoed = /** @type {any} */ (await good.body.json());
    assert.equal(echoed.headers['x-api-key'], undefined);
    assert.equal(echoed.headers['x-after'], 'ran');
  });

  it('logs proxy_log lines tagged with the filter name', () => {
    const line = env.proxy.logs.find((l) => l.filter === 'auth' && /2 key\(s\)/.test(l.msg));
    assert.ok(line, 'the filter logged its configuration through proxy_log');
    assert.equal(line.level, 30);
  });
});

describe('a local reply travels back through the filters that saw the request', () => {
  const env = withProxy(
    (upstream) => `
upstream: ${upstream.url}
filters_dir: ${FIXTURES}
filters:
  - name: before
    file: append.wasm
    config: { value: before }
  - name: auth
    file: ${FILTERS}/api_key_auth.wasm
    config: { keys: [k] }
  - name: after
    file: append.wasm
    config: { value: after }
`,
  );

  it('as in Envoy: earlier filters add to the 401, later ones never see it', async () => {
    const res = await request(`${env.proxy.url}/x`);
    const body = await res.body.text();
    assert.equal(res.statusCode, 401);
    assert.equal(body, 'missing API key\n');
    assert.equal(res.headers['content-length'], '16');
    assert.equal(res.headers['www-authenticate'], 'ApiKey');
    assert.equal(res.headers['x-chain'], 'before', 'the filter before auth ran its response phase on the reply');
    assert.equal(env.upstream.seen.length, 0);
  });

  it('HEAD gets the reply headers without a body', async () => {
    const res = await request(`${env.proxy.url}/x`, { method: 'HEAD' });
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['content-length'], '16');
    assert.equal(await res.body.text(), '');
  });
});

describe('a filter that stops the request headers', () => {
  const env = withProxy(
    (upstream) => `
upstream: ${upstream.url}
filters_dir: ${FIXTURES}
filter_hold_timeout_ms: 300
filters:
  - name: hold
    file: hold.wasm
  - name: after
    file: append.wasm
    config: { value: after }
`,
  );

  it('holds the request (and its body) until the filter continues it from a tick', async () => {
    const t0 = Date.now();
    const res = await request(`${env.proxy.url}/hold/me`, { method: 'POST', body: 'body sent while held' });
    const echoed = /** @type {any} */ (await res.body.json());
    assert.equal(res.statusCode, 200);
    assert.ok(Date.now() - t0 >= 40, 'held until the 50 ms tick');
    assert.equal(echoed.headers['x-held'], 'released-by-tick', 'the tick edited the held request');
    assert.equal(echoed.headers['x-chain'], 'after', 'the rest of the chain ran after the resume');
    assert.equal(echoed.body, 'body sent while held');
  });

  it('reads ContinueAndEndStream from a headers callback as a continue, as Envoy does', async () => {
    const res = await request(`${env.proxy.url}/end-stream`);
    const echoed = /** @type {any} */ (await res.body.json());
    assert.equal(res.statusCode, 200, 'not held until filter_hold_timeout_ms and answered 503');
    assert.equal(echoed.headers['x-chain'], 'after', 'the rest of the chain ran');
  });

  it('answers a held request 503 when the instance holding it traps meanwhile', { timeout: 10_000 }, async () => {
    const held = request(`${env.proxy.url}/hold/doomed`);
    await new Promise((r) => setTimeout(r, 5));
    const crash = await request(`${env.proxy.url}/crash`);
    await crash.body.text();
    assert.equal(crash.statusCode, 503);
    const res = await held;
    assert.equal(res.statusCode, 503, 'not left hanging');
    assert.equal(res.headers['x-outrigger-filter'], 'hold');
    assert.match(await res.body.text(), /filter "hold" failed/);
    // A fresh instance holds and releases again.
    const again = await request(`${env.proxy.url}/hold/again`);
    assert.equal(/** @type {any} */ (await again.body.json()).headers['x-held'], 'released-by-tick');
  });

  it('holds a response body past its end until the filter continues it, with the right length', async () => {
    const t0 = Date.now();
    const res = await request(`${env.proxy.url}/hold-body`);
    const text = await res.body.text();
    assert.ok(Date.now() - t0 >= 40, 'held until the 50 ms tick');
    assert.match(text, / \+released-by-tick$/);
    assert.equal(res.headers['content-length'], String(Buffer.byteLength(text)));
  });

  it('applies the filter policy to a request held longer than filter_hold_timeout_ms', async () => {
    const t0 = Date.now();
    const res = await request(`${env.proxy.url}/forever`);
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['x-outrigger-filter'], 'hold');
    await res.body.text();
    assert.ok(Date.now() - t0 >= 250, 'not before the timeout');
    const line = env.proxy.logs.find((l) => l.code === 'OUTRIGGER_FILTER_HOLD_TIMEOUT' && /held the request for 300 ms/.test(l.msg));
    assert.ok(line, 'logged with the reason');
  });

  it('lets other requests through meanwhile', async () => {
    const [held, free] = await Promise.all([request(`${env.proxy.url}/hold/2`), request(`${env.proxy.url}/free`)]);
    const freeBody = /** @type {any} */ (await free.body.json());
    const heldBody = /** @type {any} */ (await held.body.json());
    assert.equal(freeBody.headers['x-held'], undefined);
    assert.equal(heldBody.headers['x-held'], 'released-by-tick');
  });
});

describe('filter log levels', () => {
  it("honours log_level for a filter's proxy_log lines", async () => {
    const { startProxy } = await import('./helpers/proxy.mjs');
    const { startUpstream } = await import('./helpers/upstream.mjs');
    const upstream = await startUpstream();
    // The solo-io SDK logs at debug on every callback; at log_level warn none of it may appear.
    const proxy = await startProxy(
      `upstream: ${upstream.url}\nlog_level: warn\nfilters:\n  - name: chatty\n    file: ${FIXTURES}/../solo-io/build/solo_filter.wasm\n    root_id: solo_filter\n    config: x\n`,
    );
    try {
      await (await request(`${proxy.url}/`)).body.text();
      assert.equal(proxy.logs.filter((l) => l.filter === 'chatty' && l.level < 40).length, 0);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});
