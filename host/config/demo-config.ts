// The embedded default, used when `outrigger start` gets no --config: the example filters in front
// of the built-in echo upstream, so `curl -i localhost:8080/anything` shows each filter at work.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OutriggerConfig } from './config.js';
import { parseConfig } from './load-config.js';

/** The package root (this file is dist/host/config/demo-config.js once built). */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const DEMO_CONFIG_YAML = `
listen: 127.0.0.1:8080
admin: 127.0.0.1:9901
upstream: builtin:echo
filters_dir: filters
filters:
  - name: request-id
    file: request_id.wasm
  - name: api-key-auth
    file: api_key_auth.wasm
    config: { header: x-api-key, keys: [demo-key], paths: [/private] }
  - name: add-header
    file: add_header.wasm
    config: { header: x-hello, value: world }
  - name: body-rewrite
    file: body_rewrite.wasm
    config: { from: demo upstream, to: demo upstream (body rewritten by the body-rewrite filter) }
`;

export function demoConfig(): OutriggerConfig {
  return parseConfig(DEMO_CONFIG_YAML, path.join(PACKAGE_ROOT, 'outrigger.demo.yaml'), {
    displayName: '<built-in demo config>',
    baseDir: PACKAGE_ROOT,
  });
}
