// The `outrigger` command: start a proxy, or validate a config and its filters without starting one.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pino, type Logger } from 'pino';
import type { OutriggerConfig } from './config/config.js';
import { demoConfig, PACKAGE_ROOT } from './config/demo-config.js';
import { loadConfigFile } from './config/load-config.js';
import { OutriggerError } from './errors.js';
import { openInspector } from './cli/inspect.js';
import { runTests } from './cli/test.js';
import { FilterManager } from './filters/filter-manager.js';
import { runBuild } from './cli/build.js';
import { runNew } from './cli/new.js';
import { startOutrigger } from './server.js';
import { Watchdog } from './watchdog/watchdog.js';

const USAGE = `usage:
  outrigger start [--config FILE]      run the proxy (no --config: the built-in demo on 127.0.0.1:8080)
                  [--no-watch]         reload only on SIGHUP or POST /reload, not on file changes
                  [--inspect]          V8 inspector on 127.0.0.1 (--inspect-port, default 9229) for DevTools
  outrigger validate --config FILE     check a config and start each filter once, then exit
  outrigger new NAME [--outrigger SPEC]  create ./NAME, a filter project (SPEC: its outrigger dependency)
  outrigger build [DIR] [--watch] [--debug]
                                       compile a filter project's assembly/filter.ts to filters/NAME.wasm
                                       (release; --debug: debug build with a source map; --watch: on every save)
  outrigger test [FILE|DIR ...]        run a filter's fixture tests (*.test.yaml) without a proxy
  outrigger --version`;

function fail(err: unknown): never {
  if (err instanceof OutriggerError) process.stderr.write(`outrigger: ${err.describe()}\n`);
  else process.stderr.write(`outrigger: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
}

function loadConfig(file: string | undefined): OutriggerConfig {
  return file ? loadConfigFile(file) : demoConfig();
}

async function start(file: string | undefined, watch: boolean, inspect: { on: boolean; port?: string }): Promise<void> {
  const config = loadConfig(file);
  const logger: Logger = pino({ level: config.logLevel, base: { pid: process.pid } });
  if (inspect.on) openInspector(inspect.port, logger);
  // Before start-up, which runs filter code too; one per process (in-process embedders start their own).
  const watchdog = new Watchdog(config.watchdogMs);
  const running = await startOutrigger(config, { logger, configFile: file ? path.resolve(file) : null, watch, watchdog });
  watchdog.arm();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'signal received');
    running.close().then(
      () => process.exit(0),
      (err) => fail(err),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // As nginx and Envoy's hot-restart users expect: SIGHUP re-reads the config and the filters now.
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP' }, 'reload requested');
    void running.reload();
  });
}

async function validate(file: string): Promise<void> {
  const config = loadConfigFile(file);
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const manager = new FilterManager(logger);
  await manager.apply(config, { strict: true });
  for (const s of manager.slots)
    process.stdout.write(`ok  ${s.entry.name}${s.kind === 'service' ? ' (service)' : ''}  ${s.sha256.slice(0, 12)}  ABI ${s.abi}  ${s.entry.path}\n`);
  process.stdout.write(`${file}: valid (${manager.slots.length} filter${manager.slots.length === 1 ? '' : 's'})\n`);
  manager.close();
}

export async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandLine(argv);
  if (values.version) {
    const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
    process.stdout.write(`outrigger ${pkg.version}\n`);
    return;
  }
  const cmd = positionals[0];
  if (values.help || !cmd) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  try {
    if (cmd === 'start') await start(values.config, !values['no-watch'], { on: values.inspect === true, port: values['inspect-port'] });
    else if (cmd === 'validate') {
      if (!values.config) throw new OutriggerError('OUTRIGGER_USAGE', 'validate needs --config FILE', USAGE);
      await validate(values.config);
    } else if (cmd === 'new') await runNew(positionals[1], values.outrigger, USAGE);
    else if (cmd === 'build') await runBuild(positionals[1], { watch: values.watch, debug: values.debug });
    else if (cmd === 'test') {
      const results = await runTests(positionals.slice(1), (s) => process.stdout.write(s));
      if (results.some((r) => !r.ok)) process.exitCode = 1;
    } else throw new OutriggerError('OUTRIGGER_USAGE', `unknown command "${cmd}"`, USAGE);
  } catch (err) {
    fail(err);
  }
}

/** The command line, or a usage error that ends the process. */
function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        'no-watch': { type: 'boolean' },
        watch: { type: 'boolean' },
        debug: { type: 'boolean' },
        outrigger: { type: 'string' },
        inspect: { type: 'boolean' },
        'inspect-port': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (err) {
    return fail(new OutriggerError('OUTRIGGER_USAGE', (err as Error).message, USAGE));
  }
}
