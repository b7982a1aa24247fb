// 1 GiB upload through the proxy (issue 12 point 4), with Expect: 100-continue, as plain curl sends
// it: does it arrive whole, how long does it take, and how much memory does the proxy take for it
// (bodies stream with back-pressure, so its RSS should not grow with the upload's size).
//
// A loopback upstream counts the bytes it receives and answers them; the proxy runs in its own
// process (its RSS is its own: VmHWM, the peak, from /proc) with the three example filters, as
// `npm run bench` runs them. Two uploads: `curl -T FILE` (content-length) from a sparse file (no
// disk blocks, reads are zeros from the page cache) and `curl -T -` (chunked) from a stream this
// script generates on curl's stdin. Nothing of the body is ever on disk.
//
//   node bench/big-upload.mjs [--mib 1024] [--mode length,chunked]      (needs npm run build)
// OUTRIGGER_BIG_UPLOAD=1 node --test test/big-upload.test.mjs runs the same as an opt-in test.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const API_KEY = 'bench-key';
const MiB = 1048576;

/** VmRSS and VmHWM (the peak) of a process, in MiB. */
function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** An upstream that counts the body bytes of each request and answers `{bytes}`. */
async function countingUpstream() {
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c) => {
      bytes += c.length;
    });
    req.on('end', () => {
      const body = JSON.stringify({ bytes, expect: req.headers.expect ?? null, te: req.headers['transfer-encoding'] ?? null });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  return { server, url: `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}` };
}

/** Starts the proxy (its own process) with the example filters in front of `upstreamUrl`. */
async function startProxy(upstreamUrl, dir) {
  const configFile = path.join(dir, 'outrigger.yaml');
  writeFileSync(
    configFile,
    `listen: 127.0.0.1:0
admin: false
upstream: ${upstreamUrl}
log_level: info
filters_dir: ${path.join(ROOT, 'filters')}
filters:
  - name: request-id
    file: request_id.wasm
  - name: add-header
    file: add_header.wasm
    config: { header: x-hello, value: world }
  - name: api-key-auth
    file: api_key_auth.wasm
    config: { header: x-api-key, keys: [${API_KEY}] }
`,
  );
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/outrigger.js'), 'start', '--config', configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const address = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (c) => {
      buf += c;
      for (let i; (i = buf.indexOf('\n')) >= 0; ) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const j = JSON.parse(line);
          if (j.msg === 'outrigger ready') resolve(j.listen);
        } catch {}
      }
    });
    child.once('exit', (c) => reject(new Error(`outrigger exited with ${c}`)));
  });
  return { child, url: `http://${address}` };
}

/** Runs curl, feeding `stdinBytes` zero bytes on its stdin when given; resolves with its -w output and exit code. */
function curl(args, stdinBytes) {
  return new Promise((resolve, reject) => {
    const c = spawn('curl', args, { stdio: [stdinBytes === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => {
      out += d;
    });
    c.stderr.on('data', (d) => {
      err += d;
    });
    c.once('error', reject);
    c.once('close', (code) => resolve({ code, out, err }));
    if (stdinBytes !== undefined) {
      // A generated stream: the same zeroed MiB written with back-pressure until the size is reached.
      const block = Buffer.alloc(MiB);
      let left = stdinBytes;
      const stdin = /** @type {import('node:stream').Writable} */ (c.stdin);
      stdin.on('error', () => {});
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, MiB);
          left -= n;
          if (!stdin.write(n === MiB ? block : block.subarray(0, n))) return void stdin.once('drain', pump);
        }
        stdin.end();
      };
      pump();
    }
  });
}

/**
 * One upload of `mib` MiB through a fresh proxy; mode 'length' (curl -T sparse-file, content-length)
 * or 'chunked' (curl -T -, from a generated stream). Resolves with what the upstream got and the figures.
 */
export async function measureUpload({ mib = 1024, mode = 'length' } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'outrigger-upload-'));
  const upstream = await countingUpstream();
  const proxy = await startProxy(upstream.url, dir);
  try {
    const bytes = mib * MiB;
    const before = memory(/** @type {number} */ (proxy.child.pid));
    const common = ['-sS', '-o', '-', '-w', '\n%{http_code} %{time_total} %{speed_upload}', '-H', 'Expect: 100-continue', '-H', `x-api-key: ${API_KEY}`];
    let r;
    if (mode === 'length') {
      const file = path.join(dir, 'upload.bin');
      writeFileSync(file, '');
      truncateSync(file, bytes); // sparse: no blocks on disk
      r = await curl([...common, '-T', file, `${proxy.url}/upload`]);
    } else {
      r = await curl([...common, '-T', '-', `${proxy.url}/upload`], bytes);
    }
    const after = memory(/** @type {number} */ (proxy.child.pid));
    const lines = r.out.trim().split('\n');
    const [status, seconds, speed] = (lines.at(-1) ?? '').split(' ').map(Number);
    let got = null;
    try {
      got = JSON.parse(lines.slice(0, -1).join('\n'));
    } catch {}
    return {
      mode,
      bytes,
      curlExit: r.code,
      curlError: r.err.trim(),
      status,
      seconds,
      mibPerSecond: speed / MiB,
      upstreamBytes: got?.bytes ?? null,
      upstreamSawExpect: got?.expect ?? null,
      upstreamTransferEncoding: got?.te ?? null,
      rssBeforeMiB: before.rss,
      rssPeakMiB: after.peak,
      rssAfterMiB: after.rss,
    };
  } finally {
    proxy.child.kill('SIGTERM');
    upstream.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { mib: { type: 'string', default: '1024' }, mode: { type: 'string', default: 'length,chunked' } } });
  for (const mode of values.mode.split(',')) {
    const m = await measureUpload({ mib: Number(values.mib), mode });
    const ok = m.status === 200 && m.upstreamBytes === m.bytes;
    process.stdout.write(
      `${mode === 'length' ? 'curl -T file (content-length)' : 'curl -T - (chunked)'}, ${values.mib} MiB, Expect: 100-continue: ` +
        `${ok ? 'OK' : 'FAILED'} status ${m.status}, upstream got ${m.upstreamBytes} of ${m.bytes} bytes (expect header upstream: ${m.upstreamSawExpect ?? 'none'}), ` +
        `${m.seconds.toFixed(1)} s (${m.mibPerSecond.toFixed(0)} MiB/s); proxy RSS before ${m.rssBeforeMiB.toFixed(0)} MiB, peak ${m.rssPeakMiB.toFixed(0)} MiB, after ${m.rssAfterMiB.toFixed(0)} MiB` +
        `${m.curlError ? `; curl: ${m.curlError}` : ''}\n`,
    );
    if (!ok) process.exitCode = 1;
  }
}
