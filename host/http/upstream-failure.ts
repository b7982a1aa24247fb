// An upstream failure as the client sees it: a status, a stable code and a sentence in Outrigger's
// words. The upstream client library's own message (parser text, internals) goes to the log only:
// it means nothing to the client and may tell an attacker what runs behind the proxy.

export interface UpstreamFailure {
  status: number;
  code: 'OUTRIGGER_INVALID_UPSTREAM_REQUEST' | 'OUTRIGGER_UPSTREAM_TIMEOUT' | 'OUTRIGGER_UPSTREAM_UNAVAILABLE' | 'OUTRIGGER_UPSTREAM_OVERLOADED';
  body: string;
}

const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

/** What went wrong, in a few words, for the codes users meet; the rest are "failed". */
function what(code: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused the connection';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'closed the connection before a complete response';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name did not resolve';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'is not reachable';
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
      return 'sent a malformed response';
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'sent no response headers in time';
    case 'UND_ERR_BODY_TIMEOUT':
      return 'stalled sending the response body';
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'did not accept the connection in time';
    default:
      return 'failed';
  }
}

export function upstreamFailure(err: Error & { code?: string }): UpstreamFailure {
  const c = err.code ?? '';
  if (c === 'UND_ERR_INVALID_ARG')
    return {
      status: 502,
      code: 'OUTRIGGER_INVALID_UPSTREAM_REQUEST',
      body: 'the filters produced a request that cannot be sent upstream (OUTRIGGER_INVALID_UPSTREAM_REQUEST); see the proxy log\n',
    };
  if (TIMEOUTS.has(c)) return { status: 504, code: 'OUTRIGGER_UPSTREAM_TIMEOUT', body: `upstream timed out: it ${what(c)} (OUTRIGGER_UPSTREAM_TIMEOUT)\n` };
  return { status: 502, code: 'OUTRIGGER_UPSTREAM_UNAVAILABLE', body: `upstream unavailable: it ${what(c)} (OUTRIGGER_UPSTREAM_UNAVAILABLE)\n` };
}

export const OVERLOADED: UpstreamFailure = {
  status: 503,
  code: 'OUTRIGGER_UPSTREAM_OVERLOADED',
  body: 'all upstream connections are busy (OUTRIGGER_UPSTREAM_OVERLOADED); retry later\n',
};
