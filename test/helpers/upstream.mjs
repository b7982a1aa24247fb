// A real upstream for tests: node:http on loopback (or a unix socket) that records what it received
// and answers with a handler the test chooses (default: echo of method, path and headers as JSON).
import { createServer } from 'node:http';

/**
 * @param {any} [handler]
 * @param {{ socketPath?: string }} [options]
 */
export async function startUpstream(handler, { socketPath } = {}) {
  const seen = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders });
    if (handler) return handler(req, res);
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-upstream-chain': req.headers['x-chain'] ?? '' });
      res.end(body);
    });
  });
  await new Promise((resolve) => (socketPath ? server.listen(socketPath, () => resolve(undefined)) : server.listen(0, '127.0.0.1', () => resolve(undefined))));
  const url = socketPath ? `unix:${socketPath}` : `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`;
  return {
    url,
    seen,
    server,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
