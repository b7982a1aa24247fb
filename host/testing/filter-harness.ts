// A filter under test, without a network or a proxy: the .wasm runs in the proxy's own WasmFilter
// (the same host functions, the same ABI code) behind the proxy's own FilterChain, and a recording
// sink stands where the HTTP plumbing would be. The upstream is a function or a canned response; the
// clock is virtual; proxy_http_call goes to mocked clusters. What a test sees is what a client and
// the upstream would have seen.

import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino, type Logger } from 'pino';
import type { AbiVersion } from '../../abi/functions.js';
import { detectAbiVersion } from '../abi/abi-version.js';
import type { GrpcCallDispatcher } from '../abi/grpc-call-dispatcher.js';
import { MetricRegistry } from '../abi/filter-metrics.js';
import { SharedData } from '../abi/shared-data.js';
import { SharedQueues } from '../abi/shared-queues.js';
import { loadSourceMap, withSourceMapUrl, type SourceMap } from '../abi/source-map.js';
import { WasmFilter } from '../abi/wasm-filter.js';
import type { BodyBuffer } from '../chain/body-buffer.js';
import { FilterChain, type ChainSink } from '../chain/filter-chain.js';
import type { FailurePolicy, FilterFault, FilterInstance } from '../chain/filter-instance.js';
import { HeaderMap } from '../chain/header-map.js';
import { HttpStream, type LocalReply } from '../chain/http-stream.js';
import {
  DEFAULT_BREAKER_BACKOFF_MS,
  DEFAULT_BREAKER_MAX_BACKOFF_MS,
  DEFAULT_BREAKER_MAX_FAULTS,
  DEFAULT_BREAKER_WINDOW_MS,
  DEFAULT_CPU_MS,
  DEFAULT_FILTER_HOLD_TIMEOUT_MS,
  DEFAULT_MAX_BUFFERED_BODY_BYTES,
  DEFAULT_MEMORY_MB,
  DEFAULT_START_MS,
} from '../limits.js';
import { flatToObject, toFlat, type HeadersInit } from './headers.js';
import { MockClusters, type MockCluster, type MockResponse } from './mock-clusters.js';
import { VirtualClock } from './virtual-clock.js';

export interface LoadOptions {
  /** The plugin config (proxy_on_configure): a string as is, anything else as JSON (as in outrigger.yaml). */
  config?: unknown;
  vmConfig?: unknown;
  rootId?: string;
  vmId?: string;
  /** The filter's name in logs and metrics (default "filter"). */
  name?: string;
  onError?: FailurePolicy;
  /** As `debug: true` in outrigger.yaml: log each non-Ok host-call result once per call site. */
  debug?: boolean;
  /** Answers proxy_http_call by cluster name. */
  clusters?: Record<string, MockCluster | MockResponse>;
  /** Carries proxy_grpc_call / proxy_grpc_stream: real clusters (Http2GrpcClusters) or mocked ones (MockGrpcClusters). */
  grpcClusters?: GrpcCallDispatcher;
  /** The virtual clock (default: one starting at the real time now). */
  clock?: VirtualClock;
  /** What the upstream answers when a request() names none (default 200, empty body). */
  upstream?: Upstream;
  /** proxy_get_log_level and what is recorded (default "trace": everything). */
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  maxBufferedBody?: number;
  filterHoldTimeoutMs?: number;
}

export interface TestRequest {
  method?: string;
  path?: string;
  authority?: string;
  headers?: HeadersInit;
  body?: string | Buffer;
}

/** What reached the upstream. */
export interface UpstreamRequest {
  method: string;
  path: string;
  authority: string;
  headers: Record<string, string>;
  body: string;
  bodyBytes: Buffer;
}

export interface UpstreamResponse {
  status?: number;
  headers?: HeadersInit;
  body?: string | Buffer;
}

export type Upstream = UpstreamResponse | ((req: UpstreamRequest) => UpstreamResponse | Promise<UpstreamResponse>);

export interface LogRecord {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  msg: string;
  reqId?: string;
  code?: string;
  [key: string]: unknown;
}

export interface TestResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  bodyBytes: Buffer;
}

export interface RequestResult {
  /** What the upstream received, or null when a filter answered before it was reached. */
  request: UpstreamRequest | null;
  /** What the client received (null only after a reset). */
  response: TestResponse | null;
  /** The filter's local reply (proxy_send_local_response) or a failed-closed 503, else null. */
  localReply: TestResponse | null;
  /** Why the stream was reset, or null. */
  reset: string | null;
  /** Log lines of this request (its reqId), filter's and proxy's. */
  logs: LogRecord[];
  /** The filter's faults during this request (traps; policy applied). */
  faults: { code: string; message: string }[];
}

export type MetricValue = number | { count: number; sum: number };

const LEVELS: Record<number, LogRecord['level']> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const EMPTY = Buffer.alloc(0);
let nextStream = 0;

function configBytes(v: unknown): Buffer {
  if (v === undefined || v === null) return EMPTY;
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'string') return Buffer.from(v);
  return Buffer.from(JSON.stringify(v));
}

function toBuffer(b: string | Buffer | undefined): Buffer {
  return b === undefined ? EMPTY : Buffer.isBuffer(b) ? b : Buffer.from(b);
}

function response(status: number, flat: readonly string[], body: Buffer): TestResponse {
  return { status, headers: flatToObject(flat), body: body.toString('utf8'), bodyBytes: body };
}

/** The proxy-wasm store of one vm_id, as a test reads and seeds it. */
export class SharedDataView {
  readonly #store: SharedData;
  readonly #vmId: string;
  constructor(store: SharedData, vmId: string) {
    this.#store = store;
    this.#vmId = vmId;
  }
  get(key: string): string | undefined {
    return this.#store.get(this.#vmId, key)?.value.toString('utf8');
  }
  getBytes(key: string): Buffer | undefined {
    return this.#store.get(this.#vmId, key)?.value;
  }
  set(key: string, value: string | Buffer): void {
    this.#store.set(this.#vmId, key, toBuffer(value), 0);
  }
}

export class TestFilter {
  readonly name: string;
  readonly clock: VirtualClock;
  readonly clusters: MockClusters;
  readonly sharedData: SharedDataView;
  /** Every log line so far: start-up, requests, ticks. */
  readonly logs: LogRecord[] = [];
  readonly #filter: WasmFilter;
  readonly #metrics: MetricRegistry;
  readonly #options: LoadOptions;
  readonly #pending = new Set<Promise<unknown>>();

  /** Use loadFilter(). */
  constructor(module: WebAssembly.Module, abi: AbiVersion, options: LoadOptions, sourceMap: SourceMap | null = null) {
    this.name = options.name ?? 'filter';
    this.#options = options;
    this.clock = options.clock ?? new VirtualClock();
    this.clusters = new MockClusters(options.clusters);
    this.#metrics = new MetricRegistry();
    const store = new SharedData();
    const vmId = options.vmId ?? '';
    this.sharedData = new SharedDataView(store, vmId);
    const logs = this.logs;
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (!line) continue;
          const { level, time: _t, ...rest } = JSON.parse(line) as { level: number; time: number; msg: string };
          logs.push({ ...rest, level: LEVELS[level] ?? 'info' } as LogRecord);
        }
        done();
      },
    });
    // pino writes to a plain Writable synchronously, so a line is in `logs` when the host call returns.
    const logger: Logger = pino({ level: options.logLevel ?? 'trace', base: undefined }, sink).child({ filter: this.name });
    this.#filter = new WasmFilter(
      module,
      abi,
      {
        name: this.name,
        rootId: options.rootId ?? '',
        vmId,
        configuration: configBytes(options.config),
        vmConfiguration: configBytes(options.vmConfig),
        logger,
        metrics: this.#metrics,
        sharedData: store,
        sharedQueues: new SharedQueues(),
        clock: this.clock,
        httpCalls: this.clusters,
        grpcCalls: options.grpcClusters,
        sourceMap,
        debug: options.debug === true,
        limits: { cpuMs: DEFAULT_CPU_MS, startMs: DEFAULT_START_MS, memoryMb: DEFAULT_MEMORY_MB },
      },
      options.onError ?? 'fail_closed',
      // The proxy's default breaker, so a test sees the states a deployed filter would go through.
      {
        maxFaults: DEFAULT_BREAKER_MAX_FAULTS,
        windowMs: DEFAULT_BREAKER_WINDOW_MS,
        backoffMs: DEFAULT_BREAKER_BACKOFF_MS,
        maxBackoffMs: DEFAULT_BREAKER_MAX_BACKOFF_MS,
      },
    );
  }

  /** The WasmFilter the proxy would run (for what the harness does not wrap: traps, lastBacktrace). */
  get instance(): WasmFilter {
    return this.#filter;
  }

  /** Runs one request through the filter; `upstream` answers it (default: the loadFilter option). */
  request(req: TestRequest = {}, upstream?: Upstream): Promise<RequestResult> {
    const p = runRequest(this.#filter, req, upstream ?? this.#options.upstream ?? {}, this.#options, this.logs);
    this.#pending.add(p);
    p.finally(() => this.#pending.delete(p)).catch(() => {});
    return p;
  }

  /** Moves the virtual clock by `ms`, running each proxy_on_tick that falls due; then lets woken requests go on. */
  async tick(ms: number): Promise<number> {
    const fired = this.clock.advance(ms);
    await new Promise((r) => setImmediate(r));
    return fired;
  }

  /** Values of the metrics this filter defined: counters and gauges as numbers, histograms {count, sum}. */
  metrics(): Record<string, MetricValue> {
    const out: Record<string, MetricValue> = {};
    for (const m of this.#metrics.all()) {
      if (m.filter !== this.name) continue;
      out[m.name] = m.type === 2 ? { count: Number(m.count), sum: Number(m.value) } : Number(m.value);
    }
    return out;
  }

  /** Ends the root context (on_done, on_delete) and stops its ticks. */
  close(): void {
    this.#filter.release();
  }
}

function runRequest(filter: FilterInstance, req: TestRequest, upstream: Upstream, options: LoadOptions, allLogs: LogRecord[]): Promise<RequestResult> {
  const id = `test-${(nextStream++).toString(36)}`;
  const firstLog = allLogs.length;
  const flat = [
    ':method',
    req.method ?? 'GET',
    ':path',
    req.path ?? '/',
    ':authority',
    req.authority ?? 'example.test',
    ':scheme',
    'http',
    ...toFlat(req.headers),
  ];
  const body = toBuffer(req.body);
  if (body.length && !flat.includes('content-length')) flat.push('content-length', String(body.length));
  const stream = new HttpStream(id, new HeaderMap(flat), {
    sourceAddress: '127.0.0.1',
    sourcePort: 40000,
    destinationAddress: '127.0.0.1',
    destinationPort: 8080,
    protocol: 'HTTP/1.1',
    scheme: 'http',
  });
  return new Promise<RequestResult>((resolve, reject) => {
    const result: RequestResult = { request: null, response: null, localReply: null, reset: null, logs: [], faults: [] };
    const requestChunks: Buffer[] = [];
    const responseChunks: Buffer[] = [];
    let responseEosAtHeaders = false;
    let replying = false;
    let done = false;
    let chain: FilterChain;

    const finish = () => {
      if (done) return;
      done = true;
      // Like the proxy: the contexts end (on_log, on_done, on_delete) once the response is over.
      setImmediate(() => {
        try {
          chain.close();
        } catch (err) {
          reject(err);
          return;
        }
        result.logs = allLogs.slice(firstLog).filter((l) => l.reqId === id || l.reqId === undefined);
        resolve(result);
      });
    };

    const dispatch = () => {
      const headers = stream.requestHeaders;
      const bytes = Buffer.concat(requestChunks);
      const seen: UpstreamRequest = {
        method: headers.get(':method') ?? 'GET',
        path: headers.get(':path') ?? '/',
        authority: headers.get(':authority') ?? '',
        headers: flatToObject(headers.flat),
        body: bytes.toString('utf8'),
        bodyBytes: bytes,
      };
      result.request = seen;
      // The upstream answers in a later turn, as a real one would.
      setImmediate(async () => {
        if (done || chain.stopped) return;
        let r: UpstreamResponse;
        try {
          r = typeof upstream === 'function' ? await upstream(seen) : upstream;
        } catch (err) {
          reject(err);
          return;
        }
        if (done || chain.stopped) return;
        const rb = toBuffer(r.body);
        const status = r.status ?? 200;
        const rflat = [':status', String(status), ...toFlat(r.headers)];
        if (!rflat.includes('content-length')) rflat.push('content-length', String(rb.length));
        stream.responseHeaders = new HeaderMap(rflat);
        stream.responseCode = status;
        responseEosAtHeaders = rb.length === 0;
        chain.responseHeaders(responseEosAtHeaders);
        if (rb.length) chain.responseData(rb, true);
      });
    };

    const sink: ChainSink = {
      requestHeaders() {
        if (body.length === 0) dispatch();
      },
      requestData(b: BodyBuffer, eos: boolean) {
        for (const c of b.chunks) requestChunks.push(c);
        if (eos) dispatch();
      },
      responseHeaders() {
        if (responseEosAtHeaders) sendResponse();
      },
      responseData(b: BodyBuffer, eos: boolean) {
        for (const c of b.chunks) responseChunks.push(c);
        if (eos) sendResponse();
      },
      localReply(reply: LocalReply) {
        stream.responseCode = reply.status;
        result.localReply = result.response = response(reply.status, reply.headers, reply.body);
        finish();
      },
      beginLocalReply(eos: boolean) {
        replying = true;
        responseEosAtHeaders = eos;
        return true;
      },
      reset(reason: string) {
        result.reset = reason;
        finish();
      },
    };

    function sendResponse() {
      const h = stream.responseHeaders!;
      const st = Number(h.get(':status'));
      const status = Number.isInteger(st) && st >= 200 && st <= 999 ? st : stream.responseCode;
      result.response = response(status, h.flat, Buffer.concat(responseChunks));
      if (replying) result.localReply = result.response;
      finish();
    }

    const events = {
      fault(f: FilterInstance, err: FilterFault) {
        result.faults.push({ code: err.code, message: err.message });
        filterLogger(allLogs, id, f.name, err);
      },
      closed() {},
    };
    chain = new FilterChain(
      [filter],
      stream,
      sink,
      {
        maxBufferedBody: options.maxBufferedBody ?? DEFAULT_MAX_BUFFERED_BODY_BYTES,
        filterHoldTimeoutMs: options.filterHoldTimeoutMs ?? DEFAULT_FILTER_HOLD_TIMEOUT_MS,
      },
      events,
      { request: [0], response: [0] },
      null,
    );
    try {
      chain.start(body.length === 0);
      if (body.length) chain.requestData(body, true);
    } catch (err) {
      reject(err);
    }
  });
}

/** The proxy's log line for a fault (exchange.ts writes the same one). */
function filterLogger(logs: LogRecord[], reqId: string, filter: string, err: FilterFault): void {
  logs.push({ level: 'error', msg: `filter "${filter}" failed: ${err.message}`, code: err.code, filter, reqId });
}

/** Loads a .wasm (a path or its bytes) and starts it as the proxy would: configured, ready for requests. */
export async function loadFilter(wasm: string | URL | Uint8Array, options: LoadOptions = {}): Promise<TestFilter> {
  const file = typeof wasm === 'string' ? wasm : wasm instanceof URL ? fileURLToPath(wasm) : null;
  const bytes = file !== null ? await readFile(file) : (wasm as Uint8Array);
  let module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  // A debug build's source map sits beside its file: traps then name file.ts:line:col, and under
  // `node --inspect --test` DevTools finds it by an absolute URL and steps through the .ts source.
  const sourceMap = loadSourceMap(module, file);
  if (sourceMap !== null) module = await WebAssembly.compile(withSourceMapUrl(bytes, pathToFileURL(sourceMap.file).href) as Uint8Array<ArrayBuffer>);
  return new TestFilter(module, detectAbiVersion(module, options.name ?? 'filter'), options, sourceMap);
}
