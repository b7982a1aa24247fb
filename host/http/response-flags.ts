// Which of Envoy's response flags (and response code details) an upstream failure means, for the
// response.flags and response.code_details attributes filters read in on_log.

import { ResponseFlag } from '../chain/stream-info.js';

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);
const RESPONSE_TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** The flag and details of an upstream error (undici / socket code) before the response started. */
export function upstreamErrorInfo(code: string): { flag: number; details: string } {
  if (CONNECT_FAILURES.has(code))
    return { flag: ResponseFlag.UpstreamConnectionFailure, details: 'upstream_reset_before_response_started{connection_failure}' };
  if (RESPONSE_TIMEOUTS.has(code)) return { flag: ResponseFlag.UpstreamRequestTimeout, details: 'upstream_response_timeout' };
  if (code === 'UND_ERR_INVALID_ARG') return { flag: 0, details: 'invalid_upstream_request' };
  return { flag: ResponseFlag.UpstreamConnectionTermination, details: 'upstream_reset_before_response_started{connection_termination}' };
}
