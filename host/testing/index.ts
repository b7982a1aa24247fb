// outrigger/testing: run a proxy-wasm filter from node:test (or any test runner) without a proxy.
// See README.md, "Testing a filter".

export { loadFilter, TestFilter, SharedDataView } from './filter-harness.js';
export type {
  LoadOptions,
  TestRequest,
  RequestResult,
  TestResponse,
  UpstreamRequest,
  UpstreamResponse,
  Upstream,
  LogRecord,
  MetricValue,
} from './filter-harness.js';
export { VirtualClock } from './virtual-clock.js';
export { MockClusters } from './mock-clusters.js';
export type { MockCall, MockCluster, MockResponse } from './mock-clusters.js';
export { MockGrpcClusters } from './mock-grpc-clusters.js';
export type { MockGrpcCall, MockGrpcCluster, MockGrpcResponse } from './mock-grpc-clusters.js';
// The proxy's own gRPC transport, for a filter test against a real gRPC server on loopback.
export { Http2GrpcClusters } from '../http/grpc-client.js';
export type { GrpcClusterConfig, GrpcClusterSource } from '../http/grpc-client.js';
export { runFixtureFile, type CaseResult } from './fixture-runner.js';
