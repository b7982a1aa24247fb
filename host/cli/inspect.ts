// `outrigger start --inspect`: the V8 inspector on loopback, for stepping through a filter's
// AssemblyScript source in Chrome DevTools (chrome://inspect). Filters then load without the sandbox's
// rewrite: a paused breakpoint would otherwise trip the CPU deadline, and the rewrite moves the byte
// offsets the source map refers to. A debugging session, never production.

import inspector from 'node:inspector';
import type { Logger } from 'pino';
import { OutriggerError } from '../errors.js';

/** Default port, as node --inspect. */
const DEFAULT_INSPECT_PORT = 9229;

export function openInspector(portText: string | undefined, logger: Logger): string {
  const port = portText === undefined ? DEFAULT_INSPECT_PORT : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new OutriggerError('OUTRIGGER_USAGE', `--inspect-port: expected a port number (0 picks a free one), got "${portText}"`, 'e.g. --inspect-port 9229');
  process.env.OUTRIGGER_UNSAFE_NO_SANDBOX = '1';
  inspector.open(port, '127.0.0.1');
  const url = inspector.url() ?? '';
  logger.warn(
    { code: 'OUTRIGGER_INSPECT', inspector: url },
    `inspector listening on ${url}: open chrome://inspect in Chrome; filters run without the sandbox (no CPU deadline or memory cap) while --inspect is on`,
  );
  return url;
}
