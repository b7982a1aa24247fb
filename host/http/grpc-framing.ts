// gRPC's message framing on an HTTP/2 stream (gRPC over HTTP/2, "Length-Prefixed-Message"): one byte
// compressed-flag, a big-endian u32 length, the payload. Data frames split and join messages freely,
// so the decoder keeps what it has until a whole message is there. Also the status helpers of that
// spec: grpc-message's percent-encoding and the HTTP-status-to-gRPC-status mapping.

import { GrpcStatus } from '../../abi/enums.js';

const PREFIX = 5;

/** One message with its 5-byte prefix (uncompressed). */
export function frameMessage(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(PREFIX + payload.length);
  out[0] = 0;
  out.writeUInt32BE(payload.length, 1);
  payload.copy(out, PREFIX);
  return out;
}

export type DecodeError = { status: GrpcStatus; message: string };

/** Reassembles messages from DATA chunks. */
export class MessageDecoder {
  readonly #maxBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes of a message begun but not complete (a stream ending here was cut). */
  get pending(): number {
    return this.#buffered;
  }

  /** Feeds a chunk; returns the messages it completed, or an error that ends the call. */
  push(chunk: Buffer): Buffer[] | DecodeError {
    if (chunk.length) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const out: Buffer[] = [];
    while (this.#buffered >= PREFIX) {
      const head = this.#peek(PREFIX);
      if (head[0] !== 0)
        return {
          status: GrpcStatus.Internal,
          message: `compressed gRPC message (flag ${head[0]}) without a grpc-encoding Outrigger accepts (it sends no grpc-accept-encoding)`,
        };
      const len = head.readUInt32BE(1);
      if (len > this.#maxBytes)
        return { status: GrpcStatus.ResourceExhausted, message: `gRPC message of ${len} bytes exceeds the limit of ${this.#maxBytes} bytes` };
      if (this.#buffered < PREFIX + len) break;
      const all = this.#take(PREFIX + len);
      out.push(all.subarray(PREFIX));
    }
    return out;
  }

  #peek(n: number): Buffer {
    if (this.#chunks[0].length >= n) return this.#chunks[0];
    const joined = Buffer.concat(this.#chunks);
    this.#chunks = [joined];
    return joined;
  }

  #take(n: number): Buffer {
    const first = this.#peek(n);
    const taken = first.subarray(0, n);
    const rest = first.subarray(n);
    this.#chunks[0] = rest;
    if (rest.length === 0) this.#chunks.shift();
    this.#buffered -= n;
    return Buffer.from(taken);
  }
}

/** grpc-message is percent-encoded (gRPC over HTTP/2); a malformed escape is kept as is. */
export function decodeGrpcMessage(v: string | undefined): string {
  if (!v) return '';
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** gRPC's mapping of an HTTP status without grpc-status to a gRPC status (doc/http-grpc-status-mapping.md; Envoy's httpToGrpcStatus). */
export function httpToGrpcStatus(status: number): GrpcStatus {
  switch (status) {
    case 400:
      return GrpcStatus.Internal;
    case 401:
      return GrpcStatus.Unauthenticated;
    case 403:
      return GrpcStatus.PermissionDenied;
    case 404:
      return GrpcStatus.Unimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.Unavailable;
    default:
      return GrpcStatus.Unknown;
  }
}
