// The proxy-wasm ABI's enumerations, exactly as Envoy / proxy-wasm-cpp-host use them.
// One source of truth: the host (TypeScript) and the SDK (AssemblyScript) both import this file,
// so it must stay within the syntax both compilers accept (plain `export enum` with literal values).

/** proxy_status_t / WasmResult: the i32 every host call returns. */
export enum WasmResult {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  SerializationFailure = 3,
  ParseFailure = 4,
  BadExpression = 5,
  InvalidMemoryAccess = 6,
  Empty = 7,
  CasMismatch = 8,
  ResultMismatch = 9,
  InternalFailure = 10,
  BrokenConnection = 11,
  Unimplemented = 12,
}

/** proxy_log_level_t. A level above Critical is BadArgument. */
export enum LogLevel {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
}

/** What a headers callback returns (Envoy's FilterHeadersStatus; the spec's Continue/Pause fit in it). */
export enum FilterHeadersStatus {
  Continue = 0,
  StopIteration = 1,
  ContinueAndEndStream = 2,
  StopAllIterationAndBuffer = 3,
  StopAllIterationAndWatermark = 4,
}

/** What a body callback returns (Envoy's FilterDataStatus; the spec's Pause (1) means buffer). */
export enum FilterDataStatus {
  Continue = 0,
  StopIterationAndBuffer = 1,
  StopIterationAndWatermark = 2,
  StopIterationNoBuffer = 3,
}

/** What a trailers callback returns. */
export enum FilterTrailersStatus {
  Continue = 0,
  StopIteration = 1,
}

/** proxy_buffer_type_t. Values 6-8 exist from ABI 0.2.0 on. */
export enum BufferType {
  HttpRequestBody = 0,
  HttpResponseBody = 1,
  DownstreamData = 2,
  UpstreamData = 3,
  HttpCallResponseBody = 4,
  GrpcReceiveBuffer = 5,
  VmConfiguration = 6,
  PluginConfiguration = 7,
  CallData = 8,
}

/** proxy_map_type_t. */
export enum MapType {
  HttpRequestHeaders = 0,
  HttpRequestTrailers = 1,
  HttpResponseHeaders = 2,
  HttpResponseTrailers = 3,
  GrpcReceiveInitialMetadata = 4,
  GrpcReceiveTrailingMetadata = 5,
  HttpCallResponseHeaders = 6,
  HttpCallResponseTrailers = 7,
}

/** proxy_stream_type_t (0.2.0+), the argument of proxy_continue_stream / proxy_close_stream. */
export enum StreamType {
  HttpRequest = 0,
  HttpResponse = 1,
  Downstream = 2,
  Upstream = 3,
}

/** proxy_peer_type_t. */
export enum PeerType {
  Unknown = 0,
  Local = 1,
  Remote = 2,
}

/** proxy_metric_type_t. */
export enum MetricType {
  Counter = 0,
  Gauge = 1,
  Histogram = 2,
}

/** The grpc_status argument of proxy_send_local_response that means "not a gRPC reply". */
export const GRPC_STATUS_NONE = -1;

/**
 * gRPC status codes (grpc/status.h; Envoy's Grpc::Status::WellKnownGrpcStatus): what
 * proxy_on_grpc_close reports, and the grpc_status argument of proxy_send_local_response.
 */
export enum GrpcStatus {
  Ok = 0,
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}
