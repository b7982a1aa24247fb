// A loopback gRPC server (@grpc/grpc-js) with a raw-bytes test.Echo service, for the gRPC callout
// tests: messages are plain bytes (no protobuf), so a filter can send text.
//   Unary         answers "echo:" + the request; echoes x-md as initial metadata
//   ServerStream  answers request + "-1", "-2", "-3"; initial metadata x-md: initial, trailers x-md: trailing
//   Bidi          answers "echo:" + each message; ends when the client half-closes
//   Slow          never answers (records when the call is cancelled)
//   Fail          fails with PERMISSION_DENIED (7) "no entry for you"
//   Empty         (server-streaming) ends OK without a message
import grpc from '@grpc/grpc-js';

const id = (b) => b;
const method = (name, requestStream, responseStream) => ({
  path: `/test.Echo/${name}`,
  requestStream,
  responseStream,
  requestSerialize: id,
  requestDeserialize: id,
  responseSerialize: id,
  responseDeserialize: id,
});

export const ECHO_SERVICE = {
  Unary: method('Unary', false, false),
  ServerStream: method('ServerStream', false, true),
  Bidi: method('Bidi', true, true),
  Slow: method('Slow', false, false),
  Fail: method('Fail', false, false),
  Empty: method('Empty', false, true),
};

/** Starts the server on 127.0.0.1:0. `calls` records every call: method, metadata, request, cancelled. */
export async function startGrpcServer() {
  const server = new grpc.Server();
  /** @type {{method: string, metadata: Record<string, unknown>, request: string, cancelled: boolean}[]} */
  const calls = [];
  const record = (name, call, request = '') => {
    const rec = { method: name, metadata: call.metadata.getMap(), request, cancelled: false };
    call.on('cancelled', () => {
      rec.cancelled = true;
    });
    calls.push(rec);
    return rec;
  };
  const md = (v) => {
    const m = new grpc.Metadata();
    m.set('x-md', v);
    return m;
  };
  server.addService(ECHO_SERVICE, {
    Unary(call, cb) {
      record('Unary', call, call.request.toString());
      const v = call.metadata.get('x-md')[0];
      if (v !== undefined) call.sendMetadata(md(String(v)));
      cb(null, Buffer.from(`echo:${call.request}`));
    },
    ServerStream(call) {
      record('ServerStream', call, call.request.toString());
      call.sendMetadata(md('initial'));
      for (const n of [1, 2, 3]) call.write(Buffer.from(`${call.request}-${n}`));
      call.end(md('trailing'));
    },
    Bidi(call) {
      const rec = record('Bidi', call);
      call.on('data', (d) => {
        rec.request += d.toString();
        call.write(Buffer.from(`echo:${d}`));
      });
      call.on('end', () => call.end());
    },
    Slow(call) {
      record('Slow', call, call.request.toString());
    },
    Fail(call, cb) {
      record('Fail', call, call.request.toString());
      cb({ code: grpc.status.PERMISSION_DENIED, details: 'no entry for you' });
    },
    Empty(call) {
      record('Empty', call, call.request.toString());
      call.end();
    },
  });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    url: `h2c://127.0.0.1:${port}`,
    calls,
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve(undefined))),
    forceClose: () => server.forceShutdown(),
  };
}
