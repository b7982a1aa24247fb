// One request at a time per client connection. node:http parses pipelined requests as they arrive
// and emits them all at once (it only orders the responses); sent upstream together, 300 pipelined
// requests on one socket would take 300 upstream connections. Here the next request of a connection
// starts only once the previous response has ended, as nginx and Envoy do; a parse error behind
// valid requests is answered after their responses, in order.

import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

interface Line {
  busy: boolean;
  waiting: (() => void)[];
  /** The request received last: a parse error while its body is incomplete is about it. */
  last: IncomingMessage | null;
}

const lines = new WeakMap<Socket, Line>();

/**
 * Runs `start` now if the connection has no request in progress, else after the ones before it.
 * `done` must be called once the response has ended (or the connection closed).
 */
export function inTurn(req: IncomingMessage, start: () => void): () => void {
  const socket = req.socket;
  let line = lines.get(socket);
  if (line === undefined) {
    line = { busy: false, waiting: [], last: null };
    lines.set(socket, line);
  }
  const l = line;
  l.last = req;
  let finished = false;
  const done = () => {
    if (finished) return;
    finished = true;
    // An idle keep-alive connection must not keep its last request (and through its listeners the
    // exchange, chain and filter instances it used) alive: a replaced instance's memory would wait.
    if (l.last === req) l.last = null;
    // A response that closed the connection (connection: close, an error) ends the line: what was
    // pipelined behind it is never run (nor sent upstream).
    if (!socket.writable || socket.destroyed) {
      l.waiting.length = 0;
      return;
    }
    const next = l.waiting.shift();
    if (next) next();
    else l.busy = false;
  };
  if (l.busy) l.waiting.push(start);
  else {
    l.busy = true;
    start();
  }
  return done;
}

/**
 * Runs `fn` once every request already received on the connection has been answered; at once when
 * the last one is still receiving its body (the error is in that body: nothing will end it).
 */
export function afterInFlight(socket: Socket, fn: () => void): void {
  const l = lines.get(socket);
  if (l === undefined || !l.busy || l.last?.complete === false) fn();
  else l.waiting.push(fn);
}
