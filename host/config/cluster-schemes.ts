// The one table of URL schemes a `clusters:` entry may use, and what each means. Validation
// (clusters-config.ts), the README and the cluster registry (host/http/clusters.ts) all read it, so a
// new transport is one row here plus its pool.

export type ClusterTransport = 'http' | 'https' | 'unix' | 'h2c';

export interface ClusterScheme {
  /** What a cluster URL starts with. */
  prefix: string;
  transport: ClusterTransport;
  /** Whether the URL names a host and port (http://host:port) or a socket path (unix:/path). */
  form: 'origin' | 'socket';
  /** Whether proxy_http_call may use a cluster of this scheme (h2c is for gRPC calls only). */
  httpCalls: boolean;
}

export const CLUSTER_SCHEMES: readonly ClusterScheme[] = [
  { prefix: 'http://', transport: 'http', form: 'origin', httpCalls: true },
  { prefix: 'https://', transport: 'https', form: 'origin', httpCalls: true },
  { prefix: 'unix:', transport: 'unix', form: 'socket', httpCalls: true },
  // HTTP/2 with prior knowledge over cleartext: what gRPC services speak; used by gRPC calls.
  { prefix: 'h2c://', transport: 'h2c', form: 'origin', httpCalls: false },
];

/** The scheme row a URL starts with, or undefined. */
export function clusterScheme(url: string): ClusterScheme | undefined {
  return CLUSTER_SCHEMES.find((s) => url.startsWith(s.prefix));
}

/** "http://, https://, unix:/path, h2c://" for messages. */
export function schemeList(): string {
  return CLUSTER_SCHEMES.map((s) => (s.form === 'socket' ? `${s.prefix}/path` : s.prefix)).join(', ');
}
