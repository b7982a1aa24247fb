// The `grpc_service` argument of proxy_grpc_call / proxy_grpc_stream, read as Envoy reads it: a
// serialized envoy.config.core.v3.GrpcService, or else the bytes are the cluster's name (what the
// Rust, Go and AssemblyScript SDKs send). Only the parts that mean something here are read:
// envoy_grpc (1) { cluster_name (1), authority (2) } and initial_metadata (5) { key (1), value (2) }.
// A google_grpc (2) service names no cluster (Envoy's Google gRPC client dials a target of its own):
// Outrigger only calls configured clusters, so it is refused. A small hand-written reader: these
// few fields do not justify a protobuf library among the proxy's dependencies.

export type GrpcServiceTarget =
  | { kind: 'cluster'; cluster: string; authority?: string; metadata: string[]; fromProto: boolean }
  | { kind: 'unsupported'; why: string };

const VARINT = 0;
const FIXED64 = 1;
const LENGTH = 2;
const FIXED32 = 5;

interface Field {
  no: number;
  wire: number;
  bytes?: Buffer;
}

/** The fields of one message, or null when the bytes are not a well-formed protobuf message. */
function readFields(buf: Buffer): Field[] | null {
  const out: Field[] = [];
  let i = 0;
  const varint = (): number | null => {
    let v = 0;
    let mul = 1;
    for (let n = 0; n < 10; n++) {
      if (i >= buf.length) return null;
      const b = buf[i++];
      v += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) return v;
    }
    return null;
  };
  while (i < buf.length) {
    const key = varint();
    if (key === null) return null;
    const no = Math.floor(key / 8);
    const wire = key % 8;
    if (no === 0) return null;
    if (wire === VARINT) {
      if (varint() === null) return null;
      out.push({ no, wire });
    } else if (wire === FIXED64 || wire === FIXED32) {
      i += wire === FIXED64 ? 8 : 4;
      if (i > buf.length) return null;
      out.push({ no, wire });
    } else if (wire === LENGTH) {
      const len = varint();
      if (len === null || i + len > buf.length) return null;
      out.push({ no, wire, bytes: buf.subarray(i, i + len) });
      i += len;
    } else return null;
  }
  return out;
}

function str(f: Field): string | null {
  return f.wire === LENGTH && f.bytes ? f.bytes.toString('latin1') : null;
}

/** Decodes a GrpcService naming a cluster; null when `bytes` are not one (so they are a name). */
function fromProto(bytes: Buffer): GrpcServiceTarget | null {
  const fields = readFields(bytes);
  if (fields === null || fields.length === 0) return null;
  let cluster = '';
  let authority: string | undefined;
  let google = false;
  const metadata: string[] = [];
  for (const f of fields) {
    if (f.no === 1 && f.wire === LENGTH) {
      const inner = readFields(f.bytes!);
      if (inner === null) return null;
      for (const g of inner) {
        if (g.no === 1) cluster = str(g) ?? '';
        else if (g.no === 2) authority = str(g) ?? undefined;
      }
    } else if (f.no === 2 && f.wire === LENGTH) google = true;
    else if (f.no === 5 && f.wire === LENGTH) {
      const inner = readFields(f.bytes!);
      if (inner === null) return null;
      let k = '';
      let v = '';
      for (const g of inner) {
        if (g.no === 1) k = str(g) ?? '';
        else if (g.no === 2) v = str(g) ?? '';
      }
      if (k) metadata.push(k.toLowerCase(), v);
    }
  }
  if (cluster) return { kind: 'cluster', cluster, authority: authority || undefined, metadata, fromProto: true };
  if (google)
    return { kind: 'unsupported', why: 'a google_grpc GrpcService dials a target of its own; Outrigger calls only configured clusters (use envoy_grpc)' };
  return null;
}

/** What a filter's `grpc_service` bytes name. */
export function parseGrpcService(bytes: Buffer): GrpcServiceTarget {
  return fromProto(bytes) ?? { kind: 'cluster', cluster: bytes.toString('latin1'), metadata: [], fromProto: false };
}
