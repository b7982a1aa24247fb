// Headers the proxy itself puts on a response: the content-type of a local reply's text body
// (Envoy's `text/plain`) and the Date header (RFC 9110 §6.6.1), written into the header map before
// the response filters run, so a filter that removes it gets its way (node's own Date would come
// back after them).

/** Content-type of a local reply with a body and no content-type of its own, as Envoy sends it. */
export const LOCAL_REPLY_CONTENT_TYPE = 'text/plain';

let cachedSecond = -1;
let cachedDate = '';

/** The IMF-fixdate of now; formatted once a second (as node does for its own Date header). */
export function httpDate(nowMs: number = Date.now()): string {
  const second = Math.floor(nowMs / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedDate = new Date(second * 1000).toUTCString();
  }
  return cachedDate;
}
