// Clusters a test answers itself: the harness's HttpCallDispatcher. Each cluster is a function from
// the call a filter made to the response it gets; every call is recorded so a test can assert on
// what the filter sent. proxy_http_call (host/abi/http-calls.ts) dispatches through this exactly as
// it does through the proxy's real clusters (host/http/clusters.ts).

import { HttpCallFailure, type HttpCallDispatcher, type HttpCallRequest, type HttpCallResponse } from '../abi/http-call-dispatcher.js';
import { flatToObject, toFlat, type HeadersInit } from './headers.js';

export interface MockCall {
  cluster: string;
  method: string;
  path: string;
  authority: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

export interface MockResponse {
  status?: number;
  headers?: HeadersInit;
  body?: string | Buffer;
  trailers?: HeadersInit;
  /** Answer as a failed call instead (the filter sees zero headers): what a real cluster does on a timeout, refusal or reset. */
  fail?: 'timeout' | 'refused' | 'reset';
}

export type MockCluster = (call: MockCall) => MockResponse | Promise<MockResponse>;

export class MockClusters implements HttpCallDispatcher {
  readonly #clusters: Map<string, MockCluster>;
  /** Every call filters made, in order. */
  readonly calls: MockCall[] = [];

  constructor(clusters: Record<string, MockCluster | MockResponse> = {}) {
    this.#clusters = new Map(Object.entries(clusters).map(([k, v]) => [k, typeof v === 'function' ? v : () => v]));
  }

  refusal(cluster: string): string | null {
    return this.#clusters.has(cluster) ? null : `no mocked cluster "${cluster}" (pass it in loadFilter's clusters option)`;
  }

  async dispatch(req: HttpCallRequest): Promise<HttpCallResponse> {
    const h = req.headers;
    const get = (k: string) => {
      for (let i = 0; i < h.length; i += 2) if (h[i] === k) return h[i + 1];
      return '';
    };
    const call: MockCall = {
      cluster: req.cluster,
      method: get(':method'),
      path: get(':path'),
      authority: get(':authority'),
      headers: flatToObject(h, true),
      body: req.body.toString('utf8'),
      timeoutMs: req.timeoutMs,
    };
    this.calls.push(call);
    const answer = this.#clusters.get(req.cluster);
    if (!answer) throw new Error(this.refusal(req.cluster)!);
    const r = await answer(call);
    if (req.signal?.aborted) throw new HttpCallFailure('cancelled', 'the call was cancelled');
    if (r.fail) throw new HttpCallFailure(r.fail, `mocked ${r.fail}`);
    return {
      headers: [':status', String(r.status ?? 200), ...toFlat(r.headers)],
      body: Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body ?? ''),
      trailers: toFlat(r.trailers),
    };
  }
}
