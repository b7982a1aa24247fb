// What a filter may put in a header: an HTTP token (or a pseudo-header) as the name, and a value
// without CR, LF or NUL. Anything else would either crash the writer or smuggle a second header.

const TOKEN = /^:?[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

export function validHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

export function validHeaderValue(value: string): boolean {
  return !BAD_VALUE.test(value);
}
