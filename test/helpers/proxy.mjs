// Starts a real Outrigger (in this process, real sockets) from YAML, with its log lines captured.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../../dist/host/config/load-config.js';
import { startOutrigger } from '../../dist/host/server.js';
import { startUpstream } from './upstream.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FILTERS = path.join(ROOT, 'filters');
export const FIXTURES = path.join(ROOT, 'test/fixtures/build');
export const SOLO = path.join(ROOT, 'test/fixtures/solo-io/build');

export function tempDir(prefix = 'outrigger-test-') {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Captures pino's JSON lines. */
export function captureLogger(level = 'debug') {
  const lines = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level }, dest), lines };
}

/**
 * yaml: the config text (listen/admin default to 127.0.0.1:0). Returns { url, admin, logs, running, configFile, dir, close }.
 */
export async function startProxy(yaml, { dir = tempDir(), listen = '127.0.0.1:0', admin = '127.0.0.1:0', watch = true } = {}) {
  const text = `listen: ${listen}\nadmin: ${admin}\n${yaml}`;
  const configFile = path.join(dir, 'outrigger.yaml');
  writeFileSync(configFile, text);
  const config = parseConfig(text, configFile);
  const { logger, lines } = captureLogger(config.logLevel);
  const running = await startOutrigger(config, { logger, configFile, watch });
  const url = running.address.startsWith('unix:') ? running.address : `http://${running.address}`;
  return {
    url,
    admin: running.adminAddress ? `http://${running.adminAddress}` : null,
    logs: lines,
    running,
    config,
    configFile,
    dir,
    close: () => running.close(),
  };
}

/**
 * Registers before/after hooks for a describe block: starts an upstream (`handler`, default echo),
 * then a proxy from `yamlFor(upstream)`; the returned object holds { upstream, proxy } for the
 * tests, and both are closed after the block.
 */
/**
 * @param {(upstream: any) => string} yamlFor
 * @param {{ handler?: Function, proxyOptions?: object }} [options]
 */
export function withProxy(yamlFor, { handler, proxyOptions } = {}) {
  const env = {};
  before(async () => {
    env.upstream = await startUpstream(handler);
    env.proxy = await startProxy(yamlFor(env.upstream), proxyOptions);
  });
  after(async () => {
    await env.proxy?.close();
    await env.upstream?.close();
  });
  return env;
}
