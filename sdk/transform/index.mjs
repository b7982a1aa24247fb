// The SDK's build transform: what `asc --transform` points at when building a filter
// (scripts/build-filters.mjs does, and sdk/README.md shows the command). It does two things:
//  - prune-callbacks.mjs: exports only the per-request callbacks the filter overrides;
//  - collector.mjs: compiles the filter with the SDK's garbage collector (sdk/runtime/gc.ts).
import PruneCallbacks from './prune-callbacks.mjs';
import { MARKER, installCollector, restoreCollector } from './collector.mjs';

export default class OutriggerSdkTransform extends PruneCallbacks {
  #notInstalled;

  constructor() {
    super();
    this.#notInstalled = installCollector();
  }

  afterParse(parser) {
    if (this.#notInstalled === null) restoreCollector();
    const gc = parser.sources.find((s) => s.normalizedPath === '~lib/rt/tcms.ts');
    // Without it the filter still works, with AssemblyScript's collector: say so, don't fail.
    if (this.#notInstalled !== null) /** @type {any} */ (this).stderr.write(`WARNING outrigger-sdk: standard collector used: ${this.#notInstalled}\n`);
    else if (gc !== undefined && !gc.text.includes(MARKER))
      /** @type {any} */ (this).stderr.write(
        'WARNING outrigger-sdk: standard collector used: the transform and the compiler load different assemblyscript copies\n',
      );
  }
}
