// rate-limit: a token bucket per client address, in shared data, refilled on ticks.
//
// Config: {"capacity":10,"refill":10,"tick_ms":1000,"domain":"default"}
//   capacity  tokens a bucket holds (the burst a client may send at once), at least 1
//   refill    tokens added to every bucket on each tick, at least 1 (never above capacity)
//   tick_ms   the tick period in milliseconds, at least 1
//   domain    names the buckets in shared data ("ratelimit:<domain>:..."): filters with the same
//             vm_id and domain share buckets, other domains are separate (default "default")
//
// Each request takes one token from the bucket of its client's IP (`source.address` without the
// port: the peer the listener saw, so behind another proxy every client shares that proxy's bucket;
// x-forwarded-for is not used, since a client can write anything there). An empty bucket answers
// 429 with `retry-after` (seconds until the next tick) and `x-ratelimit-limit` /
// `x-ratelimit-remaining`; an allowed response carries the last two as well.
//
// The buckets live in shared data, so every instance and every generation of the filter with the
// same vm_id sees the same buckets (a hot swap does not hand out fresh tokens), and each bucket is
// read-modify-written with compare-and-swap (SharedData.update), so two instances that take a
// token at once (Envoy's worker threads) never lose one. Refill is lazy: a tick only advances one
// shared tick counter (once per period however many instances tick), and a bucket adds
// `refill` x (ticks since it was last used) when it is next read. Shared data has no delete, so each
// client address seen keeps one small entry; when the host's key cap is reached the filter lets
// requests through and counts them as errors (fail open: a limiter that cannot count should not
// take the service down).
export * from "../../sdk/assembly/exports";
import {
  Counter,
  CounterFamily,
  FilterHeadersStatus,
  HeaderPair,
  HttpContext,
  RootContext,
  SharedData,
  SharedDataUpdater,
  WasmResult,
  addResponseHeader,
  getCurrentTimeNanoseconds,
  log,
  parseJson,
  registerRootContext,
  sendLocalResponse,
  sourceIp,
} from "../../sdk/assembly";

const NS_PER_MS: u64 = 1_000_000;
const NS_PER_S: u64 = 1_000_000_000;

/** The shared tick counter: 16 bytes, the tick number and when it last advanced (ns). */
class AdvanceClock extends SharedDataUpdater {
  constructor(
    public now: u64,
    public periodNs: u64,
  ) {
    super();
  }

  next(current: ArrayBuffer | null): ArrayBuffer | null {
    let tick: u64 = 0;
    if (current !== null && current.byteLength == 16) {
      tick = load<u64>(changetype<usize>(current));
      const last = load<u64>(changetype<usize>(current), 8);
      // Every instance ticks; the first one in a period advances the counter, the others find it
      // advanced less than half a period ago and leave it.
      if (this.now < last + this.periodNs / 2) return null;
    }
    const next = new ArrayBuffer(16);
    store<u64>(changetype<usize>(next), tick + 1);
    store<u64>(changetype<usize>(next), this.now, 8);
    return next;
  }
}

/** One bucket: 16 bytes, the tokens left and the tick they were counted at. */
class TakeToken extends SharedDataUpdater {
  allowed: bool = false;
  remaining: u32 = 0;

  constructor(
    public capacity: u32,
    public refill: u32,
    public tick: u64,
  ) {
    super();
  }

  next(current: ArrayBuffer | null): ArrayBuffer | null {
    let tokens: u64 = this.capacity;
    let seen: u64 = 0;
    if (current !== null && current.byteLength == 16) {
      tokens = <u64>load<u32>(changetype<usize>(current));
      seen = load<u64>(changetype<usize>(current), 8);
      if (this.tick > seen) tokens += (this.tick - seen) * <u64>this.refill;
      if (tokens > <u64>this.capacity) tokens = this.capacity;
    }
    this.allowed = tokens > 0;
    if (this.allowed) tokens--;
    this.remaining = <u32>tokens;
    // Empty and nothing to refill: the stored bucket is already right, so a flood of limited
    // requests costs a read each, not a write.
    if (!this.allowed && current !== null && seen == this.tick) return null;
    const next = new ArrayBuffer(16);
    store<u32>(changetype<usize>(next), <u32>tokens);
    store<u64>(changetype<usize>(next), this.tick, 8);
    return next;
  }
}

class RateLimitRoot extends RootContext {
  capacity: u32 = 10;
  refill: u32 = 10;
  tickMs: u32 = 1000;
  clockKey: string = "";
  bucketPrefix: string = "";
  limitText: string = "10";
  decisions: CounterFamily = new CounterFamily("ratelimit_requests", ["decision"]);
  allowed: Counter | null = null;
  limited: Counter | null = null;
  errors: Counter | null = null;

  onConfigure(size: u32): bool {
    const config = parseJson(this.getPluginConfig());
    if (config === null || !config.isObject) {
      log.error('rate-limit: the config must be a JSON object, e.g. {"capacity":10,"refill":10,"tick_ms":1000}');
      return false;
    }
    const capacity = config.getNumber("capacity", 10);
    const refill = config.getNumber("refill", capacity);
    const tickMs = config.getNumber("tick_ms", 1000);
    if (!wholeInRange(capacity) || !wholeInRange(refill) || !wholeInRange(tickMs)) {
      log.error("rate-limit: capacity, refill and tick_ms must be whole numbers from 1 to 4294967295");
      return false;
    }
    const domain = config.getString("domain");
    this.capacity = <u32>capacity;
    this.refill = <u32>refill;
    this.tickMs = <u32>tickMs;
    const d = domain !== null ? domain : "default";
    this.clockKey = "ratelimit:" + d + ":ticks";
    this.bucketPrefix = "ratelimit:" + d + ":bucket:";
    this.limitText = this.capacity.toString();
    // decision.allowed.ratelimit_requests, decision.limited.ratelimit_requests (Envoy's tag naming).
    this.allowed = this.decisions.get(["allowed"]);
    this.limited = this.decisions.get(["limited"]);
    this.errors = new Counter("ratelimit_errors");
    return this.setTickPeriod(this.tickMs) == WasmResult.Ok;
  }

  onTick(): void {
    const r = SharedData.update(this.clockKey, new AdvanceClock(getCurrentTimeNanoseconds(), <u64>this.tickMs * NS_PER_MS));
    if (!r.ok) log.warn("rate-limit: cannot advance the tick counter: WasmResult " + (<i32>r.status).toString());
  }

  /** The current tick and the seconds until the next one (at least 1). */
  clock(): Clock {
    const r = SharedData.get(this.clockKey);
    const period = <u64>this.tickMs * NS_PER_MS;
    const v = r.value;
    if (v === null || v.bytes.byteLength != 16) return new Clock(0, secondsCeil(period));
    const tick = load<u64>(changetype<usize>(v.bytes));
    const last = load<u64>(changetype<usize>(v.bytes), 8);
    const now = getCurrentTimeNanoseconds();
    const nextAt = last + period;
    return new Clock(tick, nextAt > now ? secondsCeil(nextAt - now) : 1);
  }

  createHttpContext(contextId: u32): HttpContext {
    return new RateLimit(contextId, this);
  }
}

class Clock {
  constructor(
    public tick: u64,
    public retryAfterS: u64,
  ) {}
}

function secondsCeil(ns: u64): u64 {
  const s = (ns + NS_PER_S - 1) / NS_PER_S;
  return s > 0 ? s : 1;
}

function wholeInRange(n: f64): bool {
  return n >= 1 && n <= 4294967295 && Math.floor(n) == n;
}

class RateLimit extends HttpContext {
  remaining: string | null = null;

  constructor(
    contextId: u32,
    public config: RateLimitRoot,
  ) {
    super(contextId, config);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const c = this.config;
    const ip = sourceIp();
    const clock = c.clock();
    const take = new TakeToken(c.capacity, c.refill, clock.tick);
    const r = SharedData.update(c.bucketPrefix + (ip !== null ? ip : ""), take);
    if (!r.ok) {
      // Fail open (see the header comment), and say why once per request.
      changetype<Counter>(c.errors).inc();
      log.warn("rate-limit: bucket not updated, request let through: WasmResult " + (<i32>r.status).toString());
      return FilterHeadersStatus.Continue;
    }
    const remaining = take.remaining.toString();
    if (take.allowed) {
      changetype<Counter>(c.allowed).inc();
      this.remaining = remaining;
      return FilterHeadersStatus.Continue;
    }
    changetype<Counter>(c.limited).inc();
    sendLocalResponse(
      429,
      "rate limited\n",
      [
        new HeaderPair("retry-after", clock.retryAfterS.toString()),
        new HeaderPair("x-ratelimit-limit", c.limitText),
        new HeaderPair("x-ratelimit-remaining", remaining),
      ],
      "rate_limited",
    );
    return FilterHeadersStatus.StopIteration;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const remaining = this.remaining;
    if (remaining !== null) {
      addResponseHeader("x-ratelimit-limit", this.config.limitText);
      addResponseHeader("x-ratelimit-remaining", remaining);
    }
    return FilterHeadersStatus.Continue;
  }
}

registerRootContext("", (contextId: u32): RootContext => new RateLimitRoot(contextId));
