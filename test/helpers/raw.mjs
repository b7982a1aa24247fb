// Byte-level test tools: a raw-socket client (what goes on the wire is exactly what the test wrote)
// and a recording upstream (a plain TCP server that keeps every byte it received per connection and
// answers with a handler the test chooses). For framing, smuggling and keep-alive tests where an HTTP
// library would normalize away the very thing under test.
import { connect, createServer } from 'node:net';

/** "http://127.0.0.1:1234" -> { host, port }. */
function hostPort(url) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

/**
 * Opens a socket to `url`, writes `bytes` (string or Buffer, or an array written one after another),
 * and collects everything the peer sends until it closes, `idleMs` pass with no new byte, or
 * `until(text)` returns true. Resolves { text, bytes, closed }.
 * @param {string} url
 * @param {string | Buffer | (string | Buffer)[]} bytes
 * @param {{ idleMs?: number, timeoutMs?: number, until?: (text: string) => boolean }} [opts]
 * @returns {Promise<{ text: string, bytes: Buffer, closed: boolean }>}
 */
export function rawRequest(url, bytes, { idleMs = 1_000, timeoutMs = 10_000, until } = {}) {
  return new Promise((resolve, reject) => {
    const sock = connect(hostPort(url));
    const got = [];
    let closed = false;
    let idle = null;
    const done = () => {
      clearTimeout(idle);
      clearTimeout(hard);
      const b = Buffer.concat(got);
      sock.destroy();
      resolve({ text: b.toString('latin1'), bytes: b, closed });
    };
    const hard = setTimeout(done, timeoutMs);
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(done, idleMs);
    };
    sock.on('connect', () => {
      for (const b of Array.isArray(bytes) ? bytes : [bytes]) sock.write(b);
      arm();
    });
    sock.on('data', (c) => {
      got.push(c);
      if (until?.(Buffer.concat(got).toString('latin1'))) done();
      else arm();
    });
    sock.on('end', () => {
      closed = true;
      done();
    });
    sock.on('error', (err) => {
      if (got.length) {
        closed = true;
        done();
      } else reject(err);
    });
  });
}

/** An open socket the test drives by hand: write, wait for text, check it closed. */
export function rawConnection(url) {
  return new Promise((resolve, reject) => {
    const sock = connect(hostPort(url));
    const got = [];
    let ended = false;
    const waiters = [];
    const check = () => {
      const text = Buffer.concat(got).toString('latin1');
      for (let i = waiters.length - 1; i >= 0; i--)
        if (waiters[i].pred(text, ended)) {
          waiters[i].resolve(text);
          waiters.splice(i, 1);
        }
    };
    sock.on('data', (c) => {
      got.push(c);
      check();
    });
    sock.on('close', () => {
      ended = true;
      check();
    });
    sock.on('error', () => {});
    sock.once('connect', () =>
      resolve({
        socket: sock,
        write: (b) => sock.write(b),
        get text() {
          return Buffer.concat(got).toString('latin1');
        },
        get closed() {
          return ended;
        },
        /** Resolves with all text so far once pred(text, closed) holds; rejects after timeoutMs. */
        waitFor(pred, timeoutMs = 10_000) {
          return new Promise((res, rej) => {
            const w = { pred, resolve: res };
            waiters.push(w);
            const t = setTimeout(() => {
              const i = waiters.indexOf(w);
              if (i >= 0) waiters.splice(i, 1);
              rej(new Error(`timed out waiting; got so far: ${JSON.stringify(Buffer.concat(got).toString('latin1').slice(0, 500))}`));
            }, timeoutMs);
            w.resolve = (v) => {
              clearTimeout(t);
              res(v);
            };
            check();
          });
        },
        close: () => sock.destroy(),
      }),
    );
    sock.once('error', reject);
  });
}

/** Splits "HTTP/1.1 200 OK\r\n...\r\n\r\nbody" responses out of a byte stream (content-length or chunked). */
export function parseResponses(text) {
  const out = [];
  let rest = text;
  while (rest.length) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = rest.slice(0, end);
    const [statusLine, ...lines] = head.split('\r\n');
    const status = Number(statusLine.split(' ')[1]);
    const headers = {};
    for (const l of lines) {
      const c = l.indexOf(':');
      const k = l.slice(0, c).trim().toLowerCase();
      const v = l.slice(c + 1).trim();
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
    rest = rest.slice(end + 4);
    let body = '';
    if (status >= 100 && status < 200) {
      // interim response: no body
    } else if (headers['transfer-encoding']?.includes('chunked')) {
      for (;;) {
        const le = rest.indexOf('\r\n');
        if (le < 0) break;
        const size = Number.parseInt(rest.slice(0, le), 16);
        if (size === 0) {
          const te = rest.indexOf('\r\n\r\n', le - 2);
          rest = rest.slice(te + 4);
          break;
        }
        body += rest.slice(le + 2, le + 2 + size);
        rest = rest.slice(le + 2 + size + 2);
      }
    } else if (headers['content-length'] !== undefined && status !== 204 && status !== 304) {
      const n = Number(headers['content-length']);
      body = rest.slice(0, n);
      rest = rest.slice(n);
    }
    out.push({ status, statusLine, headers, head, body });
  }
  return out;
}

/**
 * A recording upstream: a TCP server that keeps, per connection, every byte it received, and
 * answers each complete request (head, plus a content-length or chunked body) with
 * `respond(request, conn)` -> string/Buffer to write (or null to write nothing). `request` is
 * { method, target, headers, head, body }. `conn.end()` closes after writing. Default answer: 200
 * with a small body. Returns { url, connections, requests, bytes(), close() }.
 */
export async function startRecordingUpstream(respond) {
  const connections = [];
  const requests = [];
  const server = createServer((sock) => {
    const conn = { socket: sock, received: [], requests: [], end: () => sock.end() };
    connections.push(conn);
    let buf = Buffer.alloc(0);
    sock.on('error', () => {});
    sock.on('data', (c) => {
      conn.received.push(c);
      buf = Buffer.concat([buf, c]);
      for (;;) {
        const r = takeRequest(buf);
        if (r === null) break;
        buf = buf.subarray(r.consumed);
        conn.requests.push(r.request);
        requests.push(r.request);
        const answer = respond ? respond(r.request, conn) : defaultAnswer(r.request);
        if (answer !== null && answer !== undefined && !sock.destroyed) sock.write(answer);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  return {
    url: `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`,
    server,
    connections,
    requests,
    /** Everything every connection received, as text. */
    bytes: () => connections.map((c) => Buffer.concat(c.received).toString('latin1')).join(''),
    close: () =>
      new Promise((resolve) => {
        for (const c of connections) c.socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function defaultAnswer(req) {
  const body = `${req.method} ${req.target}`;
  return `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** One request off the front of `buf`, or null when it is not complete yet. */
function takeRequest(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString('latin1');
  const [line, ...lines] = head.split('\r\n');
  const [method, target] = line.split(' ');
  const headers = {};
  for (const l of lines) {
    const c = l.indexOf(':');
    const k = l.slice(0, c).trim().toLowerCase();
    const v = l.slice(c + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  let pos = end + 4;
  let body;
  if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
    const parts = [];
    for (;;) {
      const le = buf.indexOf('\r\n', pos);
      if (le < 0) return null;
      const size = Number.parseInt(buf.subarray(pos, le).toString('latin1'), 16);
      if (size === 0) {
        const te = buf.indexOf('\r\n\r\n', le - 2);
        if (te < 0) return null;
        pos = te + 4;
        break;
      }
      if (buf.length < le + 2 + size + 2) return null;
      parts.push(buf.subarray(le + 2, le + 2 + size));
      pos = le + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else {
    const n = Number(headers['content-length'] ?? 0);
    if (buf.length < pos + n) return null;
    body = buf.subarray(pos, pos + n);
    pos += n;
  }
  return { consumed: pos, request: { method, target, headers, head, body: Buffer.from(body) } };
}
