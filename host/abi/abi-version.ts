// Which proxy-wasm ABI a module speaks, from the marker it exports (cpp-host takes the first match).

import { ABI_MARKERS, type AbiVersion } from '../../abi/functions.js';
import { OutriggerError } from '../errors.js';

export function detectAbiVersion(module: WebAssembly.Module, name: string): AbiVersion {
  for (const exp of WebAssembly.Module.exports(module)) {
    const v = ABI_MARKERS[exp.name];
    if (v && exp.kind === 'function') return v;
  }
  throw new OutriggerError(
    'OUTRIGGER_WASM_NO_ABI',
    `${name}: missing or unknown proxy-wasm ABI version (no export proxy_abi_version_0_2_1, _0_2_0 or _0_1_0)`,
    'build the filter with a proxy-wasm SDK (our sdk/, @solo-io/proxy-runtime, the Rust or Go SDK)',
  );
}
