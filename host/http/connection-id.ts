// The connection.id attribute: a serial per downstream connection, as Envoy numbers its
// connections, so a filter can tell requests that came over the same connection.

const ids = new WeakMap<object, number>();
let next = 0;

/** The socket's serial, given on its first request. */
export function connectionIdOf(socket: object): number {
  let id = ids.get(socket);
  if (id === undefined) {
    id = next++;
    ids.set(socket, id);
  }
  return id;
}
