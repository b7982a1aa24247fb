// Puts the SDK's garbage collector (sdk/runtime/gc.ts) in the place of AssemblyScript's
// minimal-runtime collector (~lib/rt/tcms) for one compilation.
//
// asc has no option for this: a custom `--runtime` path makes the compiler generate code for the
// incremental runtime (a shadow stack in every function, which is what the SDK avoids by using the
// minimal runtime). So the swap happens one level down: asc reads its standard library sources
// from the `libraryFiles` table it exports, and parses ~lib/rt/tcms only when the runtime imports
// it, after the transforms are constructed. The transform installs our source there and puts the
// original back as soon as parsing is done (afterParse). A compilation that fails before that
// leaves the swap in place for the rest of the process (only transform-less builds would notice).
import { readFileSync } from 'node:fs';
import { libraryFiles, version } from 'assemblyscript/asc';

const MODULE = 'rt/tcms';
const SOURCE = readFileSync(new URL('../runtime/gc.ts', import.meta.url), 'utf8');
/** Written against these runtime internals (rt/common, rt/tlsf): another minor version may differ. */
const SUPPORTED = /^0\.28\./;
/** A line of gc.ts that tells the installed collector apart from the standard one. */
export const MARKER = 'The garbage collector of Outrigger filters';

let original = null;
/** Compilations between install and restore: concurrent ones in one process share the swap. */
let installed = 0;

/** Installs the SDK collector. Returns a reason when it cannot (and leaves asc untouched). */
export function installCollector() {
  if (!SUPPORTED.test(version)) return `assemblyscript ${version} is not 0.28.x`;
  if (typeof libraryFiles[MODULE] !== 'string') return `assemblyscript ${version} has no ${MODULE}`;
  if (installed++ === 0) {
    original = libraryFiles[MODULE];
    libraryFiles[MODULE] = SOURCE;
  }
  return null;
}

/**
 * Ends one compilation's use of the swap (call once per successful install); the last one puts the
 * standard collector back, so a later compilation in this process without the transform gets it.
 */
export function restoreCollector() {
  if (installed > 0 && --installed === 0) libraryFiles[MODULE] = original;
}
