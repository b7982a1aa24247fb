// Compiles bench/floor-filters/*.ts: no SDK, AssemblyScript's minimal runtime (nothing is collected,
// and these filters allocate nothing that would need it). Used by bench/run.mjs and chain-micro.mjs.
import asc from 'assemblyscript/asc';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const FLOOR_FILTERS = ['null', 'request_id', 'add_header', 'api_key_auth'];

/** Builds every floor filter into outDir/<name>.wasm; throws with the compiler's output on failure. */
export async function buildFloorFilters(outDir) {
  mkdirSync(outDir, { recursive: true });
  for (const name of FLOOR_FILTERS) {
    let stderr = '';
    const { error } = await asc.main(
      // baseDir here: the repo's asconfig.json (SDK settings) must not apply to these.
      [
        `${name}.ts`,
        '--baseDir',
        HERE,
        '--runtime',
        'minimal',
        '-O3',
        '--noAssert',
        '--exportStart',
        '_initialize',
        '--outFile',
        path.join(outDir, `${name}.wasm`),
      ],
      {
        stdout: { write: () => true },
        stderr: {
          write: (t) => {
            stderr += t;
            return true;
          },
        },
      },
    );
    if (error) throw new Error(`building bench/floor-filters/${name}.ts: ${error.message}\n${stderr}`);
  }
}
