// Child process of bench/ext-authz.mjs: a node:http keep-alive server in one of two roles.
//   --role auth      the auth service: 200 (with x-user) for "authorization: Bearer good", else 401
//   --role checked   the upstream doing the same check itself: the 13-byte body, or 401
//   --role plain     the upstream behind the ext-authz filter: the 13-byte body
// Prints {"port":N} on stdout once listening.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { role: { type: 'string', default: 'plain' } } });
const role = values.role;
const BODY = Buffer.from('hello, world\n');
const DENIED = Buffer.from('bad token\n');

/** The check both roles make: the same code, so the pair compares where it runs, not what it does. */
const allowed = (req) => req.headers.authorization === 'Bearer good';

const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => {
  req.resume();
  if (role === 'auth') {
    if (allowed(req)) res.writeHead(200, { 'x-user': 'ann', 'content-length': 0 }).end();
    else res.writeHead(401, { 'content-type': 'text/plain', 'content-length': DENIED.length }).end(DENIED);
    return;
  }
  if (role === 'checked' && !allowed(req)) {
    res.writeHead(401, { 'content-type': 'text/plain', 'content-length': DENIED.length }).end(DENIED);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length }).end(BODY);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: /** @type {import('node:net').AddressInfo} */ (server.address()).port })}\n`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
