// HTTP/1.1 upgrades (RFC 9110 §7.8). `Upgrade: websocket` is proxied: the upgrade request runs
// through the filters like any request (they see its headers and may answer it locally), the
// upstream's 101 runs through their response phase, then the two sockets are joined and bytes flow
// both ways with back-pressure (pipe) until either side closes. Any other token (h2c, ...) is
// declined: the request is carried as plain HTTP/1.1 without its Upgrade header.

import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** The upgrade token Outrigger proxies, or null: only `websocket`, on a GET. */
export function proxiedUpgrade(req: IncomingMessage): string | null {
  if (req.method !== 'GET') return null;
  const u = req.headers.upgrade;
  if (u === undefined) return null;
  for (const t of u.split(',')) if (t.trim().toLowerCase() === 'websocket') return 'websocket';
  return null;
}

/** Does the request carry a body node did not read (an upgrade request's body stays on the socket)? */
export function upgradeHasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return (cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/**
 * A ServerResponse over an upgrade request's socket (node hands those over without one), so the
 * exchange answers a refused or declined upgrade as any other request. The connection closes after
 * it: node's parser has left the socket.
 */
export function responseOver(req: IncomingMessage, socket: Socket): ServerResponse {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket);
  // Node's own server ends the socket after a non-keep-alive response; here that is ours to do.
  res.once('finish', () => {
    if (!(res as ServerResponse & { upgraded?: boolean }).upgraded) socket.end();
  });
  return res;
}

/** The 101 is about to go out: the socket outlives the response (set before end(): 'finish' runs first). */
export function markUpgraded(res: ServerResponse): void {
  (res as ServerResponse & { upgraded?: boolean }).upgraded = true;
}

/**
 * Joins the client's socket and the upstream's once the 101 went out. `head`: bytes the client sent
 * after its request head (already read by node; undici puts the upstream's back into its socket).
 * `done` runs once, when both are closed.
 */
export function tunnel(res: ServerResponse, client: Socket, head: Buffer, upstream: Duplex, done: () => void): void {
  res.detachSocket(client);
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    client.destroy();
    upstream.destroy();
    done();
  };
  // Either side ending ends both, once what it sent is flushed to the other: node's server sockets
  // allow half-open connections, which would keep a tunnel (and graceful shutdown) waiting for a
  // side that has already left.
  client
    .on('error', end)
    .on('close', end)
    .once('end', () => upstream.end(end));
  upstream
    .on('error', end)
    .on('close', end)
    .once('end', () => client.end(end));
  if (head.length) upstream.write(head);
  client.pipe(upstream);
  upstream.pipe(client);
  client.resume();
  upstream.resume();
}
