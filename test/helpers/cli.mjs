// Runs the real `outrigger` command in a child process and follows its JSON log lines.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './proxy.mjs';

/**
 * `env`: extra environment variables for the child (e.g. OUTRIGGER_TEST_HOOKS).
 * @param {string[]} args
 * @param {{ env?: Record<string, string> }} [options]
 */
export function spawnOutrigger(args, { env } = {}) {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/outrigger.js'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: env ? { ...process.env, ...env } : process.env,
  });
  const lines = [];
  const waiters = [];
  let buf = '';
  child.stdout.on('data', (c) => {
    buf += c;
    for (let i; (i = buf.indexOf('\n')) >= 0; ) {
      const line = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      lines.push(line);
      for (const w of [...waiters]) if (w.pred(line)) w.resolve(line);
    }
  });
  let status = null;
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      status = { code, signal };
      resolve(code);
    }),
  );
  return {
    child,
    lines,
    exited,
    /** { code, signal } once the process has exited, null before. */
    get status() {
      return status;
    },
    /** The first log line (past or future) matching `pred`; rejects if the process exits first. */
    waitFor(pred) {
      const found = lines.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (l) => {
            waiters.splice(waiters.indexOf(w), 1);
            resolve(l);
          },
        };
        waiters.push(w);
        exited.then((code) => reject(new Error(`outrigger exited with ${code} before the expected log line`)));
      });
    },
  };
}
