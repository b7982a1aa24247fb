// One retry, on a new connection, of a request whose reused keep-alive connection failed before any
// response byte: the upstream closed it as the request arrived (a keep-alive race no client can
// avoid). Only idempotent methods (RFC 9110 §9.2.2) whose body the proxy still holds whole (none, or
// a buffered one) are retried, and only once; nothing else is, so nothing runs twice that may not.

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** What a connection closed under a request looks like from undici. */
const CLOSED = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED']);

export function retryable(method: string, bodyHeldWhole: boolean, err: Error & { code?: string }): boolean {
  return bodyHeldWhole && IDEMPOTENT.has(method) && CLOSED.has(err.code ?? '');
}
