// Binding a server to a configured address: host:port, or a unix socket (a stale socket file left
// by a crashed process is removed; one that still answers is not).

import { existsSync, unlinkSync } from 'node:fs';
import { connect, type Server } from 'node:net';
import type { ListenAddress } from '../config/config.js';
import { OutriggerError } from '../errors.js';

async function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function listen(server: Server, addr: ListenAddress, what: string): Promise<void> {
  if (addr.socketPath && existsSync(addr.socketPath)) {
    if (await socketInUse(addr.socketPath))
      throw new OutriggerError(
        'OUTRIGGER_LISTEN',
        `${what}: ${addr.socketPath} is in use by another process`,
        'stop the other process or choose another socket path',
      );
    unlinkSync(addr.socketPath);
  }
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        new OutriggerError(
          'OUTRIGGER_LISTEN',
          `${what}: cannot listen on ${addr.text}: ${err.code ?? err.message}`,
          err.code === 'EADDRINUSE' ? 'another process uses that port; change the address in the config' : 'check the address in the config',
        ),
      );
    };
    server.once('error', onError);
    const done = () => {
      server.off('error', onError);
      resolve();
    };
    if (addr.socketPath) server.listen(addr.socketPath, done);
    else server.listen(addr.port, addr.host, done);
  });
}

/** The address a listening server ended up on, as text (resolves port 0). */
export function boundAddress(server: Server): string {
  const a = server.address();
  if (a === null) return '';
  if (typeof a === 'string') return `unix:${a}`;
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
