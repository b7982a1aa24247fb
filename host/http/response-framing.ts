// Which upstream responses carry a body downstream, and with which framing headers (RFC 9110 §6.4.1,
// §8.6, RFC 9112 §6.3): 1xx and 204 never have a body nor content-length/transfer-encoding; 304 has
// no body and may keep the content-length of the resource it stands for, never transfer-encoding.

/** The status has no body, whatever its headers say. */
export function statusHasNoBody(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

/** `name` (content-length or transfer-encoding, lower case) must not go downstream with `status`. */
export function dropsFramingHeader(status: number, name: string): boolean {
  if (status < 200 || status === 204) return true;
  return status === 304 && name === 'transfer-encoding';
}
