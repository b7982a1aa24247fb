// A small parser of the Prometheus text exposition format (0.0.4), strict enough to catch a malformed
// /metrics: every sample must belong to a family declared by # HELP and # TYPE before it.
// Returns Map<family name, { help, type, samples: [{ name, labels, value }] }>.

const SUFFIXES = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };

function parseLabels(text, line) {
  const labels = {};
  let i = 0;
  while (i < text.length) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)="/.exec(text.slice(i));
    if (!m) throw new Error(`bad label in: ${line}`);
    i += m[0].length;
    let v = '';
    for (;;) {
      if (i >= text.length) throw new Error(`unterminated label value in: ${line}`);
      const c = text[i++];
      if (c === '"') break;
      if (c === '\\') {
        const e = text[i++];
        v += e === 'n' ? '\n' : e;
      } else v += c;
    }
    labels[m[1]] = v;
    if (text[i] === ',') i++;
  }
  return labels;
}

function parseValue(s, line) {
  // As Prometheus reads them (Go's ParseFloat): case-insensitive; prom-client writes NaN as "Nan"
  // (e.g. the event loop lag mean before the first sample).
  const l = s.toLowerCase();
  if (l === '+inf' || l === 'inf') return Number.POSITIVE_INFINITY;
  if (l === '-inf') return Number.NEGATIVE_INFINITY;
  if (l === 'nan') return Number.NaN;
  const v = Number(s);
  if (s === '' || Number.isNaN(v)) throw new Error(`bad value in: ${line}`);
  return v;
}

export function parseExposition(text) {
  const families = new Map();
  const familyOf = (sample) => {
    if (families.has(sample)) return families.get(sample);
    for (const [name, f] of families) for (const suf of SUFFIXES[f.type] ?? []) if (suf && sample === name + suf) return f;
    return null;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# HELP ([A-Za-z_:][A-Za-z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (families.has(m[1])) throw new Error(`family declared twice: ${m[1]}`);
      families.set(m[1], { name: m[1], help: m[2], type: null, samples: [] });
      continue;
    }
    m = /^# TYPE ([A-Za-z_:][A-Za-z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      const f = families.get(m[1]);
      if (!f || f.type !== null) throw new Error(`TYPE without HELP first, or twice: ${line}`);
      f.type = m[2];
      continue;
    }
    if (line.startsWith('#')) continue;
    m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const f = familyOf(m[1]);
    if (!f || f.type === null) throw new Error(`sample of an undeclared family: ${line}`);
    f.samples.push({ name: m[1], labels: m[2] ? parseLabels(m[2], line) : {}, value: parseValue(m[3], line) });
  }
  return families;
}

/** The value of the one sample of `name` whose labels include `labels`, or undefined. */
export function sampleValue(families, family, name, labels = {}) {
  const f = families.get(family);
  if (!f) return undefined;
  const hits = f.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${hits.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return hits[0]?.value;
}
