// Typed accessors for the attributes (properties) filters read most, by Envoy's names. Each is one
// proxy_get_property; null (or a Result with NotFound) when the host does not have it, e.g. outside
// a request. Addresses are "ip:port" as in Envoy ("[::1]:8080" for IPv6); addressHost() drops the port.
import { getPropertyInt, getPropertyString } from "./properties";
import { Result } from "./result";

/**
 * The host part of an "ip:port" address: "10.0.0.1:80" → "10.0.0.1", "[::1]:80" → "::1". An address
 * without a port (a bare IPv6 address, a unix socket path) is returned as it is.
 */
export function addressHost(address: string): string {
  if (address.startsWith("[")) {
    const end = address.indexOf("]");
    return end > 0 ? address.substring(1, end) : address;
  }
  const colon = address.lastIndexOf(":");
  // More than one colon and no brackets: a bare IPv6 address.
  if (colon < 0 || address.indexOf(":") != colon) return address;
  return address.substring(0, colon);
}

/** The downstream peer's address, "ip:port" (`source.address`). */
export function sourceAddress(): string | null {
  return getPropertyString("source.address");
}

/** The downstream peer's IP without the port (from `source.address`): the client as the listener saw it. */
export function sourceIp(): string | null {
  const a = sourceAddress();
  return a !== null ? addressHost(a) : null;
}

/** The downstream peer's port (`source.port`). */
export function sourcePort(): Result<i64> {
  return getPropertyInt("source.port");
}

/** The listener's local address the request came in on, "ip:port" (`destination.address`). */
export function destinationAddress(): string | null {
  return getPropertyString("destination.address");
}

/** The local port the request came in on (`destination.port`). */
export function destinationPort(): Result<i64> {
  return getPropertyInt("destination.port");
}

/** The request's path with its query (`request.path`). */
export function requestPath(): string | null {
  return getPropertyString("request.path");
}

/** The request's method (`request.method`). */
export function requestMethod(): string | null {
  return getPropertyString("request.method");
}

/** The request's id (`request.id`: its x-request-id, or the host's own id for it). */
export function requestId(): string | null {
  return getPropertyString("request.id");
}

/** The response's status code (`response.code`), NotFound before the response headers. */
export function responseCode(): Result<i64> {
  return getPropertyInt("response.code");
}

/** The filter's name in the host's config (`plugin_name`). */
export function pluginName(): string | null {
  return getPropertyString("plugin_name");
}

/** The vm_id the filter runs under (`plugin_vm_id`): the scope of shared data and queues. */
export function pluginVmId(): string | null {
  return getPropertyString("plugin_vm_id");
}
