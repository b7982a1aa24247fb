// Metrics through proxy_define_metric / proxy_increment_metric / proxy_record_metric /
// proxy_get_metric: Counter, Gauge, Histogram, and families of them keyed by tag values.
//
// Define metrics once per root context (in onConfigure or onVmStart, or lazily) and keep the
// object: defining resolves the name to an id in a host call, updating it is then one host call. The
// host keeps metrics per filter name, so they outlive instance restarts and hot swaps, and defining
// the same name again returns the same id (a new generation picks up the running values). On
// Outrigger they show on /metrics as outrigger_filter_counter_total / outrigger_filter_gauge /
// outrigger_filter_histogram_{sum,count}{filter, name}; Envoy shows them prefixed `wasmcustom.`.
//
// Errors are values: a definition the host refused keeps its WasmResult in `status` and every later
// update answers that same status without calling the host, so a filter never has to check twice.
import { MetricType, WasmResult } from "../../abi/enums";
import { proxy_define_metric, proxy_get_metric, proxy_increment_metric, proxy_record_metric } from "./imports";
import { RET_LEN, RET_U64, clearReturnSlots, toUtf8 } from "./memory";
import { Result } from "./result";

/** What every metric kind shares: its name, the host's id and the outcome of defining it. */
export class Metric {
  /** The host's id; meaningless unless `ok`. */
  id: u32 = 0;
  /** The WasmResult of proxy_define_metric (Ok, BadArgument, InternalFailure when the host's cap is reached...). */
  status: WasmResult = WasmResult.Ok;

  constructor(
    public readonly type: MetricType,
    public readonly name: string,
  ) {
    // A metric needs a name: "" is refused here, without a host call (families use it for a wrong tag count).
    if (name.length == 0) {
      this.status = WasmResult.BadArgument;
    } else {
      const bytes = toUtf8(name);
      clearReturnSlots();
      this.status = <WasmResult>proxy_define_metric(<u32>type, changetype<usize>(bytes), <usize>bytes.byteLength, RET_LEN);
      if (this.status == WasmResult.Ok) this.id = load<u32>(RET_LEN);
    }
  }

  /** True when the host defined the metric. */
  get ok(): bool {
    return this.status == WasmResult.Ok;
  }

  /** The current value (counters and gauges; a histogram answers BadArgument on Outrigger). */
  protected read(): Result<u64> {
    if (this.status != WasmResult.Ok) return new Result<u64>(this.status, 0);
    clearReturnSlots();
    const status = <WasmResult>proxy_get_metric(this.id, RET_U64);
    return new Result<u64>(status, status == WasmResult.Ok ? load<u64>(RET_U64) : 0);
  }
}

/** A value that only goes up: requests seen, bytes sent, decisions taken. */
export class Counter extends Metric {
  constructor(name: string) {
    super(MetricType.Counter, name);
  }

  /** Adds `n` (at least 1: the host answers BadArgument for 0, a counter never goes down). */
  inc(n: u64 = 1): WasmResult {
    if (this.status != WasmResult.Ok) return this.status;
    if (n > <u64>i64.MAX_VALUE) return WasmResult.BadArgument;
    return <WasmResult>proxy_increment_metric(this.id, <i64>n);
  }

  /** The counter's value. */
  get(): Result<u64> {
    return this.read();
  }
}

/** A value that goes up and down: entries in a cache, connections open, the last size seen. */
export class Gauge extends Metric {
  constructor(name: string) {
    super(MetricType.Gauge, name);
  }

  /** Sets the value. Envoy's gauges are unsigned (Outrigger keeps the sign): keep them non-negative to run on both. */
  set(value: i64): WasmResult {
    if (this.status != WasmResult.Ok) return this.status;
    return <WasmResult>proxy_record_metric(this.id, <u64>value);
  }

  /** Adds `delta` (negative to go down). */
  add(delta: i64): WasmResult {
    if (this.status != WasmResult.Ok) return this.status;
    return <WasmResult>proxy_increment_metric(this.id, delta);
  }

  /** The gauge's value. */
  get(): Result<i64> {
    const r = this.read();
    return new Result<i64>(r.status, <i64>r.value);
  }
}

/** A distribution: latencies, sizes. Each record adds one sample (Outrigger exports count and sum). */
export class Histogram extends Metric {
  constructor(name: string) {
    super(MetricType.Histogram, name);
  }

  /** Records one sample. */
  record(value: u64): WasmResult {
    if (this.status != WasmResult.Ok) return this.status;
    return <WasmResult>proxy_record_metric(this.id, value);
  }
}

/**
 * The full name of a metric with tags, as Envoy's C++ SDK builds it: `tag.value.` for each tag, then
 * the name ("decision.denied.ratelimit_requests"); Envoy's tag extraction turns those back into tags.
 */
export function metricName(name: string, tagNames: Array<string>, tagValues: Array<string>): string {
  let full = "";
  for (let i = 0; i < tagNames.length; i++) {
    full += unchecked(tagNames[i]) + "." + (i < tagValues.length ? unchecked(tagValues[i]) : "") + ".";
  }
  return full + name;
}

/**
 * Metrics of one kind that differ by tag values: `family.get(["denied"])` defines
 * "decision.denied.<name>" the first time and returns the same object afterwards. A wrong number of
 * values gives a metric with status BadArgument (no abort, no host call).
 */
class MetricFamily<T extends Metric> {
  protected readonly byValues: Map<string, T> = new Map<string, T>();

  constructor(
    public readonly name: string,
    public readonly tagNames: Array<string>,
  ) {}

  protected key(values: Array<string>): string {
    return values.join("\0");
  }
}

export class CounterFamily extends MetricFamily<Counter> {
  /** The counter for these tag values (one per tag name, in order). */
  get(values: Array<string>): Counter {
    const k = this.key(values);
    if (this.byValues.has(k)) return this.byValues.get(k);
    const m = new Counter(values.length == this.tagNames.length ? metricName(this.name, this.tagNames, values) : "");
    this.byValues.set(k, m);
    return m;
  }
}

export class GaugeFamily extends MetricFamily<Gauge> {
  /** The gauge for these tag values (one per tag name, in order). */
  get(values: Array<string>): Gauge {
    const k = this.key(values);
    if (this.byValues.has(k)) return this.byValues.get(k);
    const m = new Gauge(values.length == this.tagNames.length ? metricName(this.name, this.tagNames, values) : "");
    this.byValues.set(k, m);
    return m;
  }
}

export class HistogramFamily extends MetricFamily<Histogram> {
  /** The histogram for these tag values (one per tag name, in order). */
  get(values: Array<string>): Histogram {
    const k = this.key(values);
    if (this.byValues.has(k)) return this.byValues.get(k);
    const m = new Histogram(values.length == this.tagNames.length ? metricName(this.name, this.tagNames, values) : "");
    this.byValues.set(k, m);
    return m;
  }
}
