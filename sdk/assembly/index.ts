// Outrigger's AssemblyScript SDK for proxy-wasm 0.2.1 filters: the public API.
//
//   export * from "../../sdk/assembly/exports";        // the module's ABI exports (required)
//   import { RootContext, HttpContext, registerRootContext, ... } from "../../sdk/assembly";
//
// See ../README.md.

// ABI enums (single source of truth: abi/enums.ts)
export {
  WasmResult,
  LogLevel,
  FilterHeadersStatus,
  FilterDataStatus,
  FilterTrailersStatus,
  BufferType,
  MapType,
  StreamType,
  PeerType,
  MetricType,
  GRPC_STATUS_NONE,
  GrpcStatus,
} from "../../abi/enums";

export { Result } from "./result";
export { Context } from "./context";
export { RootContext } from "./root-context";
export { HttpContext } from "./http-context";
export { RootContextFactory, registerRootContext, getRootContext, getHttpContext } from "./dispatcher";
export {
  HeaderPair,
  serializeHeaders,
  deserializeHeaders,
  getHeader,
  getHeaderBytes,
  getHeaders,
  setHeaders,
  addHeader,
  replaceHeader,
  replaceHeaderBytes,
  removeHeader,
  getRequestHeader,
  getRequestHeaders,
  setRequestHeaders,
  addRequestHeader,
  replaceRequestHeader,
  removeRequestHeader,
  getResponseHeader,
  getResponseHeaders,
  setResponseHeaders,
  addResponseHeader,
  replaceResponseHeader,
  removeResponseHeader,
} from "./headers";
export {
  getBufferBytes,
  setBufferBytes,
  replaceBuffer,
  appendBuffer,
  prependBuffer,
  getRequestBody,
  replaceRequestBody,
  appendRequestBody,
  prependRequestBody,
  getResponseBody,
  replaceResponseBody,
  appendResponseBody,
  prependResponseBody,
} from "./body";
export {
  encodePropertyPath,
  encodePropertySegments,
  getProperty,
  getPropertyResult,
  getPropertyPath,
  getPropertyString,
  getPropertyInt,
  getPropertyMap,
  setProperty,
  setPropertyString,
  getPropertyStringResult,
  getPropertyBool,
  setPropertyInt,
} from "./properties";
export { log, logAt, getLogLevel } from "./log";
export { sendLocalResponse, sendLocalResponseBytes } from "./local-response";
export {
  continueStream,
  closeStream,
  continueRequest,
  continueResponse,
  closeRequest,
  closeResponse,
} from "./stream";
export { getCurrentTimeNanoseconds } from "./time";
export { HttpCallHandler, HttpCallResponse, httpCall, pendingHttpCalls } from "./http-call";
export { toUtf8, fromUtf8 } from "./memory";
export { JsonKind, JsonValue, parseJson } from "./json";

// Metrics, shared data, timers and typed attributes (issue 13's SDK wrappers).
export { Metric, Counter, Gauge, Histogram, CounterFamily, GaugeFamily, HistogramFamily, metricName } from "./metrics";
export { SharedData, SharedValue, SharedDataUpdater, DEFAULT_UPDATE_ATTEMPTS } from "./shared-data";
export { Timer, Timers } from "./timers";
export {
  addressHost,
  sourceAddress,
  sourceIp,
  sourcePort,
  destinationAddress,
  destinationPort,
  requestPath,
  requestMethod,
  requestId,
  responseCode,
  pluginName,
  pluginVmId,
} from "./attributes";
export {
  registerSharedQueue,
  resolveSharedQueue,
  enqueueSharedQueue,
  enqueueSharedQueueString,
  dequeueSharedQueue,
  dequeueSharedQueueString,
  lastDequeueResult,
} from "./shared-queue";

// gRPC calls and streams.
export { GrpcCallHandler, GrpcStreamHandler, GrpcStream, grpcCall, grpcStream, cancelGrpcCall } from "./grpc";
