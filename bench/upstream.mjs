// The benchmark's upstream: a minimal node:http keep-alive server answering a fixed 13-byte body.
// GET /__bench/headers answers the request headers it received as JSON (used once per proxy before
// measuring, to check that the filters really ran). Prints {"port":N} on stdout once listening.
import { createServer } from 'node:http';

const BODY = Buffer.from('hello, world\n');
const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => {
  if (req.url === '/__bench/headers') {
    const body = JSON.stringify(req.headers);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  // Drain any request body, then answer.
  req.resume();
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
  res.end(BODY);
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
