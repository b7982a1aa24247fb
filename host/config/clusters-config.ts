// The top-level `clusters:` key: named upstreams a filter calls with proxy_http_call (and gRPC calls),
// as Envoy's clusters. Each is a URL, or a mapping { url, timeout_ms, max_connections }. Validated
// like the rest of the config (load-config.ts reports every problem with file:line and key).

import path from 'node:path';
import { DEFAULT_CLUSTER_MAX_CONNECTIONS, DEFAULT_CLUSTER_TIMEOUT_MS } from '../limits.js';
import { clusterScheme, schemeList, type ClusterTransport } from './cluster-schemes.js';

export interface ClusterConfig {
  name: string;
  /** As written in the config (unix: paths resolved against the config's directory). */
  url: string;
  transport: ClusterTransport;
  /** scheme://host:port for origin clusters; http://localhost for unix sockets. */
  origin: string;
  /** The socket path of a unix: cluster, else null. */
  socketPath: string | null;
  /** Longest any call to this cluster may take (a filter's own timeout is capped by it; 0 from the filter means this). */
  timeoutMs: number;
  /** Bound on this cluster's keep-alive pool. */
  maxConnections: number;
}

/** What load-config.ts's problem list offers: one message per problem, located by key path. */
export interface ProblemSink {
  add(keyPath: (string | number)[], message: string, atKey?: boolean): void;
}

const CLUSTER_KEYS = ['url', 'timeout_ms', 'max_connections'] as const;
/** Same shape as filter names: they appear in logs and metric labels. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Same-valued configs make the same key: a reload that leaves a cluster alone keeps its pool. */
export function clusterKey(c: ClusterConfig): string {
  return JSON.stringify([c.url, c.timeoutMs, c.maxConnections]);
}

export function parseClusters(v: unknown, p: ProblemSink, baseDir: string): ClusterConfig[] {
  if (v === undefined || v === null) return [];
  if (typeof v !== 'object' || Array.isArray(v)) {
    p.add(['clusters'], `expected a mapping of cluster name to URL (${schemeList()}) or { url, timeout_ms, max_connections }, got ${describe(v)}`);
    return [];
  }
  const out: ClusterConfig[] = [];
  for (const [name, entry] of Object.entries(v as Record<string, unknown>)) {
    const at = ['clusters', name];
    if (!NAME.test(name)) {
      p.add(at, `cluster name must be letters, digits, "-", "_" or "." (the name filters pass to proxy_http_call), got ${JSON.stringify(name)}`, true);
      continue;
    }
    let url: unknown = entry;
    let timeoutMs = DEFAULT_CLUSTER_TIMEOUT_MS;
    let maxConnections = DEFAULT_CLUSTER_MAX_CONNECTIONS;
    let urlAt: (string | number)[] = at;
    if (entry !== null && typeof entry === 'object' && !Array.isArray(entry)) {
      const e = entry as Record<string, unknown>;
      for (const k of Object.keys(e))
        if (!(CLUSTER_KEYS as readonly string[]).includes(k)) p.add([...at, k], `unknown key; a cluster takes ${CLUSTER_KEYS.join(', ')}`, true);
      url = e.url;
      urlAt = [...at, 'url'];
      for (const k of ['timeout_ms', 'max_connections'] as const) {
        const x = e[k];
        if (x === undefined) continue;
        if (typeof x !== 'number' || !Number.isInteger(x) || x <= 0) {
          p.add([...at, k], `expected a positive whole number${k === 'timeout_ms' ? ' of milliseconds' : ''}, got ${describe(x)}`);
          continue;
        }
        if (k === 'timeout_ms') timeoutMs = x;
        else maxConnections = x;
      }
    } else if (typeof entry !== 'string') {
      p.add(at, `expected a URL (${schemeList()}) or a mapping { url, timeout_ms, max_connections }, got ${describe(entry)}`);
      continue;
    }
    const parsed = parseClusterUrl(url, urlAt, p, baseDir);
    if (parsed) out.push({ name, ...parsed, timeoutMs, maxConnections });
  }
  return out;
}

function parseClusterUrl(
  v: unknown,
  at: (string | number)[],
  p: ProblemSink,
  baseDir: string,
): Pick<ClusterConfig, 'url' | 'transport' | 'origin' | 'socketPath'> | null {
  if (typeof v !== 'string' || !v) {
    p.add(at, `required: expected a URL (${schemeList()}), got ${describe(v)}`);
    return null;
  }
  const scheme = clusterScheme(v);
  if (!scheme) {
    p.add(at, `unsupported URL ${JSON.stringify(v)}; expected one of ${schemeList()}`);
    return null;
  }
  if (scheme.form === 'socket') {
    const sp = v.slice(scheme.prefix.length);
    if (!sp) {
      p.add(at, `expected a socket path after "${scheme.prefix}"`);
      return null;
    }
    const abs = path.resolve(baseDir, sp);
    return { url: `${scheme.prefix}${abs}`, transport: scheme.transport, origin: 'http://localhost', socketPath: abs };
  }
  let url: URL;
  try {
    // URL parses h2c:// as an opaque scheme; read host and port as http:// (h2c's default port is 80 too).
    url = new URL(`${scheme.transport === 'https' ? 'https://' : 'http://'}${v.slice(scheme.prefix.length)}`);
  } catch {
    p.add(at, `not a valid URL: ${JSON.stringify(v)}; expected ${scheme.prefix}host:port`);
    return null;
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username || !url.hostname) {
    p.add(at, `expected only scheme, host and port (a call's :path is the filter's), got ${JSON.stringify(v)}`);
    return null;
  }
  const origin = `${scheme.prefix}${url.host}`;
  return { url: origin, transport: scheme.transport, origin, socketPath: null };
}
