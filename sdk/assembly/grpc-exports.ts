// The gRPC callbacks a filter that makes gRPC calls must export. Its entry file re-exports them
// beside the SDK's usual exports:
//   export * from "../../sdk/assembly/exports";
//   export * from "../../sdk/assembly/grpc-exports";
// Kept apart from exports.ts so that filters without gRPC do not import the gRPC host calls.
import { enterCallback, leaveCallback } from "./collector";
import * as grpc from "./grpc";

export function proxy_on_grpc_receive_initial_metadata(rootContextId: u32, token: u32, numElements: u32): void {
  enterCallback();
  grpc.onGrpcReceiveInitialMetadata(token, numElements);
  leaveCallback();
}

export function proxy_on_grpc_receive(rootContextId: u32, token: u32, messageSize: u32): void {
  enterCallback();
  grpc.onGrpcReceive(token, messageSize);
  leaveCallback();
}

export function proxy_on_grpc_receive_trailing_metadata(rootContextId: u32, token: u32, numElements: u32): void {
  enterCallback();
  grpc.onGrpcReceiveTrailingMetadata(token, numElements);
  leaveCallback();
}

export function proxy_on_grpc_close(rootContextId: u32, token: u32, statusCode: u32): void {
  enterCallback();
  grpc.onGrpcClose(token, statusCode);
  leaveCallback();
}
