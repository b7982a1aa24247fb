// The comparison point: fastify 5 + @fastify/http-proxy (reply-from over undici, its defaults),
// no logging, no hooks. Usage: node fastify-proxy.mjs http://127.0.0.1:PORT
// Prints {"port":N} on stdout once listening on 127.0.0.1 (an ephemeral port).
import Fastify from 'fastify';
import proxy from '@fastify/http-proxy';

const upstream = process.argv[2];
if (!upstream) {
  process.stderr.write('usage: node fastify-proxy.mjs http://127.0.0.1:PORT\n');
  process.exit(2);
}
const app = Fastify({ logger: false });
await app.register(proxy, { upstream });
await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ port: /** @type {import('node:net').AddressInfo} */ (app.server.address()).port })}\n`);

let stopping = false;
const stop = () => {
  if (stopping) process.exit(1);
  stopping = true;
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
  setTimeout(() => process.exit(0), 3000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
