// Whether the upstream accepts connections: what /readyz reports. A plain connect, cached briefly
// so a probe storm doesn't become a connect storm.

import { connect, type Socket } from 'node:net';

export class UpstreamProbe {
  readonly #target: string;
  #last = 0;
  #result: Promise<string | null> = Promise.resolve('not probed yet');

  constructor(target: string) {
    this.#target = target;
  }

  /** null when reachable, else why not. */
  check(): Promise<string | null> {
    const now = Date.now();
    if (now - this.#last > 1000) {
      this.#last = now;
      this.#result = this.#probe();
    }
    return this.#result;
  }

  #probe(): Promise<string | null> {
    return new Promise((resolve) => {
      let sock: Socket;
      if (this.#target.startsWith('unix:')) sock = connect(this.#target.slice(5));
      else {
        const u = new URL(this.#target);
        sock = connect(Number(u.port) || (u.protocol === 'https:' ? 443 : 80), u.hostname.replace(/^\[|\]$/g, ''));
      }
      sock.setTimeout(1000);
      sock.once('connect', () => {
        sock.destroy();
        resolve(null);
      });
      sock.once('timeout', () => {
        sock.destroy();
        resolve('connect timed out');
      });
      sock.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
  }
}
