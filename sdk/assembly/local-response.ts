// proxy_send_local_response: answer the request from the filter. The host sends the reply after the
// current callback returns and stops the current direction whatever the callback returns (returning
// StopIteration is the convention); the upstream and the rest of the chain are skipped.
import { GRPC_STATUS_NONE, WasmResult } from "../../abi/enums";
import { proxy_send_local_response } from "./imports";
import { HeaderPair, serializeHeaders } from "./headers";
import { toUtf8 } from "./memory";

/**
 * Sends a local reply. `headers` are added to the reply, `details` becomes the response code details
 * (for logs), `grpcStatus` -1 means "not a gRPC reply".
 */
export function sendLocalResponseBytes(
  statusCode: u32,
  body: ArrayBuffer,
  headers: Array<HeaderPair> | null = null,
  details: string = "",
  grpcStatus: i32 = GRPC_STATUS_NONE,
): WasmResult {
  const d = toUtf8(details);
  const h = serializeHeaders(headers !== null ? headers : new Array<HeaderPair>());
  return <WasmResult>proxy_send_local_response(
    statusCode,
    changetype<usize>(d), <usize>d.byteLength,
    changetype<usize>(body), <usize>body.byteLength,
    changetype<usize>(h), <usize>h.byteLength,
    grpcStatus,
  );
}

/** Sends a local reply with a UTF-8 text body. */
export function sendLocalResponse(
  statusCode: u32,
  body: string,
  headers: Array<HeaderPair> | null = null,
  details: string = "",
  grpcStatus: i32 = GRPC_STATUS_NONE,
): WasmResult {
  return sendLocalResponseBytes(statusCode, toUtf8(body), headers, details, grpcStatus);
}
