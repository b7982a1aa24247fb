// A GET from a chosen local address (127.0.0.2, ...: all of 127/8 is loopback on Linux), so a test
// can be two different clients. undici's Agent ignores connect.localAddress; node:http honours it.
import http from 'node:http';

/**
 * @param {string} url
 * @param {string} localAddress
 * @param {Record<string, string>} [headers]
 * @returns {Promise<{ status: number, headers: import('node:http').IncomingHttpHeaders, body: string }>}
 */
export function getFrom(url, localAddress, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url} from ${localAddress}: no answer in 10 s`)));
    req.on('error', reject);
  });
}
