// When garbage is collected. Filters build with AssemblyScript's minimal runtime (asconfig.json):
// a two-colour mark & sweep that runs only when asked, with no shadow stack. The incremental
// runtime keeps a shadow stack of every reference in every function and does collector work inside
// allocations; for a filter's short callbacks that cost ~1-2 µs per request in the proxy's profile.
//
// The minimal collector does not scan the wasm stack, so it may only run when the stack holds no
// references: at the end of the outermost callback (the host may call back in, e.g. to allocate,
// while a callback runs). It runs every COLLECT_EVERY callbacks, spaced out further as more
// requests are in flight (a collection marks everything live), after any memory growth, and, with
// the SDK's collector (sdk/runtime/gc.ts), once the heap has grown by as much as was live after
// the last collection (at least MIN_GROWTH): a filter that allocates a lot per request then settles
// at about twice its live data instead of at whatever a callback count lets pile up.
import { liveHttpContexts } from "./dispatcher";

const COLLECT_EVERY: i32 = 512;
const MIN_GROWTH: usize = 256 * 1024;

let depth: i32 = 0;
/** Callbacks left before the next collection. */
let budget: i32 = COLLECT_EVERY;
let pagesAtCollect: i32 = 0;
/** Heap bytes right after the last collection (what was live). */
let liveAtCollect: usize = 0;

/** The heap has grown by more than was live after the last collection. */
// @ts-ignore: decorator
@inline function grownTooMuch(): bool {
  // Only the SDK's collector reports its size; with AssemblyScript's, the count and growth triggers remain.
  // @ts-ignore: compile-time check for a runtime global
  if (!isDefined(__outrigger_heap_bytes)) return false;
  // @ts-ignore: defined when isDefined says so
  const now: usize = __outrigger_heap_bytes();
  // (A shrinking reallocation can take it below liveAtCollect: unsigned, so compare first.)
  return now > liveAtCollect && now - liveAtCollect > max(MIN_GROWTH, liveAtCollect);
}

/** A host callback starts. */
// @ts-ignore: decorator
@inline export function enterCallback(): void {
  depth++;
}

/** A host callback ends: collect if it is the outermost and the policy says so. */
export function leaveCallback(): void {
  if (--depth > 0) return;
  depth = 0;
  if (--budget > 0 && memory.size() == pagesAtCollect && !grownTooMuch()) return;
  collectNow();
}

/** A full collection now. Only safe when no callback is running (no references on the stack). */
function collectNow(): void {
  __collect();
  budget = COLLECT_EVERY + (liveHttpContexts() << 2);
  pagesAtCollect = memory.size();
  // @ts-ignore: compile-time check for a runtime global
  if (isDefined(__outrigger_heap_bytes)) liveAtCollect = __outrigger_heap_bytes();
}
