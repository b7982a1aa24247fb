// Headers as a test writes and reads them: a plain object (a repeated header joined with ", ", as
// fetch does) or [name, value] pairs; the chain's flat [k, v, ...] lists in between.

export type HeadersInit = Record<string, string | number | readonly string[]> | readonly (readonly [string, string])[] | undefined;

export function toFlat(h: HeadersInit): string[] {
  const out: string[] = [];
  if (h === undefined) return out;
  if (Array.isArray(h)) {
    for (const [k, v] of h as readonly (readonly [string, string])[]) out.push(k.toLowerCase(), String(v));
    return out;
  }
  for (const [k, v] of Object.entries(h as Record<string, string | number | readonly string[]>)) {
    if (Array.isArray(v)) for (const x of v) out.push(k.toLowerCase(), String(x));
    else out.push(k.toLowerCase(), String(v));
  }
  return out;
}

/** Flat list → object; pseudo-headers (":path") dropped unless `keepPseudo`. */
export function flatToObject(flat: readonly string[], keepPseudo = false): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i];
    if (!keepPseudo && k.charCodeAt(0) === 58) continue;
    out[k] = k in out ? `${out[k]}, ${flat[i + 1]}` : flat[i + 1];
  }
  return out;
}
