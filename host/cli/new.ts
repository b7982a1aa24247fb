// `outrigger new NAME`: a filter project in ./NAME from the template in templates/filter/ (shipped in
// the package): an AssemblyScript filter importing the SDK as "outrigger/sdk", a harness test, an
// outrigger.yaml in front of the built-in echo upstream and a README.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../config/demo-config.js';
import { OutriggerError } from '../errors.js';

const TEMPLATE_DIR = path.join(PACKAGE_ROOT, 'templates', 'filter');
/** An npm package name without a scope (it names the project, the filter and its .wasm file). */
const NAME = /^[a-z0-9][a-z0-9._-]{0,213}$/;
/**
 * Template files stored under another name: npm pack leaves out a file named .gitignore, and a
 * package.json inside the package's tree would be taken for a nested package by tools.
 */
const RENAMED: Record<string, string> = { _gitignore: '.gitignore', '_package.json': 'package.json' };

export interface NewOptions {
  /** Where the project directory is created (default: the current directory). */
  parentDir?: string;
  /** The project's dependency on outrigger (default: ^ this package's version). */
  outriggerSpec?: string;
}

/** The .wasm file a filter project builds to: its name with - and . as _. */
export function wasmFileName(projectName: string): string {
  return `${projectName.replace(/[-.]/g, '_')}.wasm`;
}

/** Creates the project; returns its directory. */
export async function newProject(name: string, { parentDir = process.cwd(), outriggerSpec }: NewOptions = {}): Promise<string> {
  if (!NAME.test(name))
    throw new OutriggerError(
      'OUTRIGGER_USAGE',
      `"${name}" is not a usable project name`,
      'use lower-case letters, digits, "-", "_" or "." (it becomes the npm package name and the .wasm file name)',
    );
  const dir = path.resolve(parentDir, name);
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new OutriggerError('OUTRIGGER_NEW_EXISTS', `${dir} already exists and is not empty`, 'pick another name, or remove that directory');
  const version = (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const values: Record<string, string> = { name, file: wasmFileName(name), outrigger: outriggerSpec ?? `^${version}` };
  await copyTemplate(TEMPLATE_DIR, dir, values);
  await mkdir(path.join(dir, 'filters'), { recursive: true });
  return dir;
}

async function copyTemplate(from: string, to: string, values: Record<string, string>): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dest = path.join(to, RENAMED[entry.name] ?? entry.name);
    if (entry.isDirectory()) await copyTemplate(src, dest, values);
    else {
      const text = (await readFile(src, 'utf8')).replace(/\{\{(\w+)\}\}/g, (m, key: string) => values[key] ?? m);
      await writeFile(dest, text);
    }
  }
}

export async function runNew(name: string | undefined, outriggerSpec: string | undefined, usage: string): Promise<void> {
  if (!name) throw new OutriggerError('OUTRIGGER_USAGE', 'new needs a project name', usage);
  const dir = await newProject(name, { outriggerSpec });
  const rel = path.relative(process.cwd(), dir) || '.';
  process.stdout.write(
    `created ${rel}/ (a filter adding x-hello: world to every response)\n\n` +
      `  cd ${rel}\n  npm install\n  npm test       # builds filters/${wasmFileName(name)}, runs test/ in the harness\n` +
      '  npm start      # the filter in front of the built-in echo upstream on http://127.0.0.1:8080\n',
  );
}
