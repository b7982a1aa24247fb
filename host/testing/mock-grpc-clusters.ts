// gRPC clusters a test answers itself: the harness's GrpcCallDispatcher, beside mock-clusters.ts for
// proxy_http_call. Each cluster is a function from the call (once the filter half-closed it: for a
// unary call at once) to what the server answers; every call is recorded. For a real server on
// loopback, pass the proxy's own transport instead: `new Http2GrpcClusters({ name: 'h2c://...' })`.

import { GrpcStatus } from '../../abi/enums.js';
import type { GrpcCallDispatcher, GrpcCallRequest, GrpcCallStream, GrpcStreamEvents } from '../abi/grpc-call-dispatcher.js';
import { flatToObject, toFlat, type HeadersInit } from './headers.js';

export interface MockGrpcCall {
  cluster: string;
  service: string;
  method: string;
  metadata: Record<string, string>;
  /** What the filter sent, in order. */
  messages: Buffer[];
  timeoutMs: number;
  /** The filter cancelled it (proxy_grpc_cancel, or its instance went away). */
  cancelled: boolean;
}

export interface MockGrpcResponse {
  initialMetadata?: HeadersInit;
  messages?: (string | Buffer)[];
  trailingMetadata?: HeadersInit;
  /** Default Ok (0). */
  status?: number;
  message?: string;
}

export type MockGrpcCluster = (call: MockGrpcCall) => MockGrpcResponse | Promise<MockGrpcResponse>;

export class MockGrpcClusters implements GrpcCallDispatcher {
  readonly #clusters: Map<string, MockGrpcCluster>;
  /** Every call filters made, in order. */
  readonly calls: MockGrpcCall[] = [];

  constructor(clusters: Record<string, MockGrpcCluster | MockGrpcResponse> = {}) {
    this.#clusters = new Map(Object.entries(clusters).map(([k, v]) => [k, typeof v === 'function' ? v : () => v]));
  }

  hasCluster(name: string): boolean {
    return this.#clusters.has(name);
  }

  start(req: GrpcCallRequest, events: GrpcStreamEvents): GrpcCallStream {
    const call: MockGrpcCall = {
      cluster: req.cluster,
      service: req.service,
      method: req.method,
      metadata: flatToObject(req.metadata, true),
      messages: [],
      timeoutMs: req.timeoutMs,
      cancelled: false,
    };
    this.calls.push(call);
    const answer = this.#clusters.get(req.cluster)!;
    let halfClosed = false;
    const respond = async () => {
      // Events arrive in later turns, as from a real server.
      const r = await answer(call);
      const steps: (() => void)[] = [
        () => events.initialMetadata(toFlat(r.initialMetadata)),
        ...(r.messages ?? []).map((m) => () => events.message(Buffer.isBuffer(m) ? m : Buffer.from(m))),
        () => events.trailingMetadata(['grpc-status', String(r.status ?? GrpcStatus.Ok), ...toFlat(r.trailingMetadata)]),
        () => events.close(r.status ?? GrpcStatus.Ok, r.message ?? ''),
      ];
      for (const step of steps) {
        await new Promise((res) => setImmediate(res));
        if (call.cancelled) return;
        step();
      }
    };
    const halfClose = () => {
      if (halfClosed) return;
      halfClosed = true;
      setImmediate(() => {
        if (!call.cancelled) respond().catch((err) => events.close(GrpcStatus.Internal, String(err)));
      });
    };
    return {
      send(message, endStream) {
        if (halfClosed) return;
        call.messages.push(message);
        if (endStream) halfClose();
      },
      close: halfClose,
      cancel() {
        call.cancelled = true;
      },
    };
  }
}
