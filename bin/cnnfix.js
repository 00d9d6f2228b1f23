#!/usr/bin/env node
// cnnfix CLI. In the npm package it runs the compiled JavaScript (dist/lib/); in a checkout of the repository, where
// the TypeScript sources sit beside it and tsx (a dev dependency) is installed, it runs the sources, so that the CLI
// never runs a stale build.
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);
let main;
if (
  existsSync(sources) &&
  (await import('tsx/esm/api').then(
    (tsx) => (tsx.register(), true),
    () => false,
  ))
) {
  ({ main } = await import(sources.href));
} else {
  ({ main } = await import('../dist/lib/cli/main.js'));
}
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  // An unexpected error: its message (and where), not a stack dump of the engine.
  console.error(`cnnfix: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
}
