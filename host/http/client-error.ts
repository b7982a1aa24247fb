// What the listener answers when node's HTTP parser refuses a request (the 'clientError' event):
// the status that names the cause (431 headers too large, 414 request line too long, 413 chunk
// extensions too large, 408 head timeout, else 400) and a reason token for /metrics and the log, the parser's code (HPE_...) kept.

/** Node's default cap on a request head (--max-http-header-size), request line included. */
const DEFAULT_MAX_HEAD = 16 * 1024;

export interface ClientErrorReply {
  status: number;
  reason: string;
  /** The whole response, connection closed after it. */
  bytes: string;
}

const TEXT: Record<number, string> = {
  400: 'Bad Request',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
};

export function rawReply(status: number, code: string, body: string): string {
  return `HTTP/1.1 ${status} ${TEXT[status] ?? 'Error'}\r\nconnection: close\r\ncontent-type: text/plain; charset=utf-8\r\nx-outrigger-error: ${code}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

export function clientErrorReply(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, maxHead = DEFAULT_MAX_HEAD): ClientErrorReply {
  const code = err.code ?? 'unknown';
  if (code === 'HPE_HEADER_OVERFLOW') {
    // The request line alone over the cap: the target is too long (414); else the headers (431).
    const pkt = err.rawPacket;
    const lineEnd = pkt ? pkt.indexOf('\r\n') : -1;
    const longLine = pkt !== undefined && (lineEnd < 0 ? pkt.length >= maxHead : lineEnd >= maxHead) && /^[A-Z]+ /.test(pkt.subarray(0, 16).toString('latin1'));
    if (longLine) return { status: 414, reason: 'uri_too_long', bytes: rawReply(414, 'OUTRIGGER_URI_TOO_LONG', 'the request target is too long\n') };
    return { status: 431, reason: 'headers_too_large', bytes: rawReply(431, 'OUTRIGGER_HEADERS_TOO_LARGE', 'the request headers are too large\n') };
  }
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW')
    return {
      status: 413,
      reason: 'chunk_extensions_too_large',
      bytes: rawReply(413, 'OUTRIGGER_CHUNK_EXTENSIONS_TOO_LARGE', 'the chunk extensions are too large\n'),
    };
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return { status: 408, reason: 'header_timeout', bytes: rawReply(408, 'OUTRIGGER_CLIENT_TIMEOUT', 'the request head did not arrive in time\n') };
  return { status: 400, reason: code, bytes: rawReply(400, 'OUTRIGGER_BAD_REQUEST', `malformed request (${code})\n`) };
}
