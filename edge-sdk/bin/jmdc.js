#!/usr/bin/env node
// In a source checkout the TypeScript sources run through tsx (never a stale build); an installed
// package (what `npm pack` ships: bin/ and dist/, no src/) runs the compiled dist/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src', 'cli', 'main.ts');
let mod;
if (existsSync(src)) {
  const { tsImport } = await import('tsx/esm/api');
  mod = await tsImport(pathToFileURL(src).href, import.meta.url);
} else {
  mod = await import(pathToFileURL(join(root, 'dist', 'cli', 'main.js')).href);
}
process.exitCode = await mod.main(process.argv.slice(2));
