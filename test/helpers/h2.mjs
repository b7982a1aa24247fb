// HTTP/2 test tools on node:http2: a cleartext (h2c) client request that collects status, headers,
// body and trailers, an h2c upstream that answers gRPC-shaped unary calls with trailers, and the
// 5-byte length-prefixed gRPC message framing written by hand.
import http2 from 'node:http2';

/** A gRPC message: 1 byte compressed flag (0), 4 bytes big-endian length, the payload. */
export function grpcFrame(payload) {
  const p = Buffer.from(payload);
  const out = Buffer.alloc(5 + p.length);
  out.writeUInt32BE(p.length, 1);
  p.copy(out, 5);
  return out;
}

/** The payloads of the gRPC messages in `buf`. */
export function grpcMessages(buf) {
  const out = [];
  for (let i = 0; i + 5 <= buf.length; ) {
    const n = buf.readUInt32BE(i + 1);
    out.push(buf.subarray(i + 5, i + 5 + n).toString());
    i += 5 + n;
  }
  return out;
}

/**
 * One request over a fresh h2c session to `url` ("http://host:port"). `headers` may hold pseudo-headers.
 * `trailers`: sent after the body. Resolves { status, headers, body: Buffer, trailers }.
 */
export function h2Request(url, { method = 'GET', path = '/', headers = {}, body = null, trailers = null, session = null } = {}) {
  return new Promise((resolve, reject) => {
    const s = session ?? http2.connect(url);
    s.on('error', reject);
    const hasBody = body !== null || trailers !== null;
    const req = s.request({ ':method': method, ':path': path, ...headers }, { endStream: !hasBody, waitForTrailers: trailers !== null });
    if (trailers !== null) req.on('wantTrailers', () => req.sendTrailers(trailers));
    let head = null;
    let tr = {};
    const chunks = [];
    req.on('response', (h) => {
      head = h;
    });
    req.on('trailers', (t) => {
      tr = t;
    });
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (!session) s.close();
      resolve({ status: head?.[':status'], headers: head ?? {}, body: Buffer.concat(chunks), trailers: tr });
    });
    req.on('error', (err) => {
      if (!session) s.destroy();
      reject(err);
    });
    if (hasBody) {
      if (body !== null) req.write(body);
      req.end();
    }
  });
}

/**
 * An h2c upstream. Default answer: gRPC-shaped (content-type application/grpc, the request's
 * messages echoed in one message "echo:<payloads>", trailers grpc-status 0 / grpc-message ok), and
 * the request's headers and trailers recorded in `seen`.
 */
export async function startH2Upstream(handler) {
  const seen = [];
  const server = http2.createServer();
  const sessions = new Set();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    const rec = { headers, trailers: null, body: Buffer.alloc(0) };
    seen.push(rec);
    const chunks = [];
    stream.on('trailers', (t) => {
      rec.trailers = t;
    });
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      rec.body = Buffer.concat(chunks);
      if (handler) return handler(stream, headers, rec);
      if (stream.destroyed) return;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'ok' }));
      stream.end(grpcFrame(`echo:${grpcMessages(rec.body).join(',')}`));
    });
    stream.on('error', () => {});
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
  return {
    url: `h2c://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve(undefined));
      }),
  };
}
