// A minimal JSON reader for filter configuration. parseJson returns null on invalid input (never
// aborts). Strings are fully unescaped (\uXXXX included); numbers are f64; objects keep key order
// and the last duplicate key wins on lookup.
//
//   const cfg = parseJson(this.getPluginConfig());
//   if (cfg === null || !cfg.isObject) return false;
//   const header = cfg.getString("header");   // string | null
//   const keys = cfg.get("keys");             // JsonValue | null (check .isArray, .length, .at(i))

export enum JsonKind {
  Null = 0,
  Bool = 1,
  Number = 2,
  String = 3,
  Array = 4,
  Object = 5,
}

export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  boolValue: bool = false;
  numberValue: f64 = 0;
  stringValue: string = "";
  /** Array elements, or object values (parallel to `keys`). */
  items: Array<JsonValue> = new Array<JsonValue>();
  /** Object keys, in document order. */
  keys: Array<string> = new Array<string>();

  get isNull(): bool { return this.kind == JsonKind.Null; }
  get isBool(): bool { return this.kind == JsonKind.Bool; }
  get isNumber(): bool { return this.kind == JsonKind.Number; }
  get isString(): bool { return this.kind == JsonKind.String; }
  get isArray(): bool { return this.kind == JsonKind.Array; }
  get isObject(): bool { return this.kind == JsonKind.Object; }

  /** Number of array elements or object members (0 for scalars). */
  get length(): i32 {
    return this.items.length;
  }

  /** Array element `index`, or null (out of range, or not an array). */
  at(index: i32): JsonValue | null {
    if (this.kind != JsonKind.Array || index < 0 || index >= this.items.length) return null;
    return unchecked(this.items[index]);
  }

  /** Object member `key`, or null (absent, or not an object). */
  get(key: string): JsonValue | null {
    if (this.kind != JsonKind.Object) return null;
    for (let i = this.keys.length - 1; i >= 0; i--) {
      if (unchecked(this.keys[i]) == key) return unchecked(this.items[i]);
    }
    return null;
  }

  has(key: string): bool {
    return this.get(key) !== null;
  }

  /** This value as a string, or null when it is not a JSON string. */
  asString(): string | null {
    return this.kind == JsonKind.String ? this.stringValue : null;
  }

  /** Member `key` when it is a string, else null. */
  getString(key: string): string | null {
    const v = this.get(key);
    return v !== null && v.kind == JsonKind.String ? v.stringValue : null;
  }

  /** Member `key` when it is a number, else `fallback`. */
  getNumber(key: string, fallback: f64 = 0): f64 {
    const v = this.get(key);
    return v !== null && v.kind == JsonKind.Number ? v.numberValue : fallback;
  }

  /** Member `key` when it is a boolean, else `fallback`. */
  getBool(key: string, fallback: bool = false): bool {
    const v = this.get(key);
    return v !== null && v.kind == JsonKind.Bool ? v.boolValue : fallback;
  }

  /** Member `key` when it is an array of strings only, else null. */
  getStringArray(key: string): Array<string> | null {
    const v = this.get(key);
    if (v === null || v.kind != JsonKind.Array) return null;
    const out = new Array<string>();
    for (let i = 0; i < v.items.length; i++) {
      const item = unchecked(v.items[i]);
      if (item.kind != JsonKind.String) return null;
      out.push(item.stringValue);
    }
    return out;
  }
}

/** Parses a JSON document; null when it is not valid JSON. */
export function parseJson(text: string): JsonValue | null {
  const p = new JsonParser(text);
  p.skipWhitespace();
  const v = p.parseValue(0);
  if (v === null) return null;
  p.skipWhitespace();
  if (p.pos != text.length) return null;
  return v;
}

const MAX_DEPTH = 64;

class JsonParser {
  pos: i32 = 0;
  constructor(public text: string) {}

  peek(): i32 {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  skipWhitespace(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) this.pos++;
      else break;
    }
  }

  matchWord(word: string): bool {
    if (this.text.substr(this.pos, word.length) == word) {
      this.pos += word.length;
      return true;
    }
    return false;
  }

  parseValue(depth: i32): JsonValue | null {
    if (depth > MAX_DEPTH) return null;
    const c = this.peek();
    const v = new JsonValue();
    if (c == 0x7b /* { */) return this.parseObject(depth);
    if (c == 0x5b /* [ */) return this.parseArray(depth);
    if (c == 0x22 /* " */) {
      const s = this.parseString();
      if (s === null) return null;
      v.kind = JsonKind.String;
      v.stringValue = s;
      return v;
    }
    if (c == 0x74 /* t */) {
      if (!this.matchWord("true")) return null;
      v.kind = JsonKind.Bool;
      v.boolValue = true;
      return v;
    }
    if (c == 0x66 /* f */) {
      if (!this.matchWord("false")) return null;
      v.kind = JsonKind.Bool;
      return v;
    }
    if (c == 0x6e /* n */) {
      if (!this.matchWord("null")) return null;
      return v;
    }
    if (c == 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) return this.parseNumber();
    return null;
  }

  parseObject(depth: i32): JsonValue | null {
    const v = new JsonValue();
    v.kind = JsonKind.Object;
    this.pos++; // {
    this.skipWhitespace();
    if (this.peek() == 0x7d /* } */) {
      this.pos++;
      return v;
    }
    while (true) {
      this.skipWhitespace();
      if (this.peek() != 0x22) return null;
      const key = this.parseString();
      if (key === null) return null;
      this.skipWhitespace();
      if (this.peek() != 0x3a /* : */) return null;
      this.pos++;
      this.skipWhitespace();
      const item = this.parseValue(depth + 1);
      if (item === null) return null;
      v.keys.push(key);
      v.items.push(item);
      this.skipWhitespace();
      const c = this.peek();
      this.pos++;
      if (c == 0x2c /* , */) continue;
      if (c == 0x7d /* } */) return v;
      return null;
    }
  }

  parseArray(depth: i32): JsonValue | null {
    const v = new JsonValue();
    v.kind = JsonKind.Array;
    this.pos++; // [
    this.skipWhitespace();
    if (this.peek() == 0x5d /* ] */) {
      this.pos++;
      return v;
    }
    while (true) {
      this.skipWhitespace();
      const item = this.parseValue(depth + 1);
      if (item === null) return null;
      v.items.push(item);
      this.skipWhitespace();
      const c = this.peek();
      this.pos++;
      if (c == 0x2c /* , */) continue;
      if (c == 0x5d /* ] */) return v;
      return null;
    }
  }

  parseString(): string | null {
    const text = this.text;
    this.pos++; // opening quote
    let out = "";
    let runStart = this.pos;
    while (true) {
      if (this.pos >= text.length) return null;
      const c = text.charCodeAt(this.pos);
      if (c == 0x22) {
        out += text.substring(runStart, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) return null;
      if (c != 0x5c /* \ */) {
        this.pos++;
        continue;
      }
      out += text.substring(runStart, this.pos);
      this.pos++;
      if (this.pos >= text.length) return null;
      const e = text.charCodeAt(this.pos);
      this.pos++;
      if (e == 0x22) out += "\"";
      else if (e == 0x5c) out += "\\";
      else if (e == 0x2f) out += "/";
      else if (e == 0x62) out += "\b";
      else if (e == 0x66) out += "\f";
      else if (e == 0x6e) out += "\n";
      else if (e == 0x72) out += "\r";
      else if (e == 0x74) out += "\t";
      else if (e == 0x75 /* u */) {
        if (this.pos + 4 > text.length) return null;
        let code = 0;
        for (let i = 0; i < 4; i++) {
          const h = hexDigit(text.charCodeAt(this.pos + i));
          if (h < 0) return null;
          code = (code << 4) | h;
        }
        this.pos += 4;
        out += String.fromCharCode(code); // UTF-16 code unit; surrogate pairs combine naturally
      } else return null;
      runStart = this.pos;
    }
  }

  parseNumber(): JsonValue | null {
    const text = this.text;
    const start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    const first = this.peek();
    if (first == 0x30) {
      this.pos++;
    } else if (first >= 0x31 && first <= 0x39) {
      while (isDigit(this.peek())) this.pos++;
    } else return null;
    if (this.peek() == 0x2e /* . */) {
      this.pos++;
      if (!isDigit(this.peek())) return null;
      while (isDigit(this.peek())) this.pos++;
    }
    const e = this.peek();
    if (e == 0x65 || e == 0x45) {
      this.pos++;
      const s = this.peek();
      if (s == 0x2b || s == 0x2d) this.pos++;
      if (!isDigit(this.peek())) return null;
      while (isDigit(this.peek())) this.pos++;
    }
    const v = new JsonValue();
    v.kind = JsonKind.Number;
    v.numberValue = parseFloat(text.substring(start, this.pos));
    return v;
  }
}

function isDigit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
}

function hexDigit(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}
