// `npm test`: every tier in order, stopping at the first that fails, and how long each took (CI's log shows where the
// time goes). The fresh-clone check (tests/node/clone.test.ts: `npm run test:fast` and the Node tier in a clone of HEAD
// without the model mirror) runs before the Node tier; when this checkout is clean at that HEAD, the Node-tier files
// that passed there with nothing skipped are the same files on the same code, and are not run a second time here
// (vitest.config.ts reads the list). Files that skipped anything there (they need the mirror) all run here.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const CLONE_REPORT = join(ROOT, 'out/clone-proven.json');

const tiers = [
  ['models', 'npm', ['run', 'models']],
  ['typecheck', 'tsc', ['--noEmit']],
  ['unit', 'vitest', ['run'], { TEST_TIER: 'unit' }],
  [
    'fresh clone',
    'vitest',
    ['run', 'tests/node/clone.test.ts'],
    { TEST_TIER: 'node', CNNFIX_CLONE_REPORT: CLONE_REPORT },
  ],
  ['node', 'vitest', ['run'], { TEST_TIER: 'node', CNNFIX_CLONE_REPORT: CLONE_REPORT, CNNFIX_CLONE_DONE: '1' }],
  ['browser', 'playwright', ['test']],
];

rmSync(CLONE_REPORT, { force: true });
const done = [];
let failed = null;
const t0 = Date.now();
for (const [name, cmd, args, env] of tiers) {
  const start = Date.now();
  console.log(`\n== ${name}: ${cmd} ${args.join(' ')} (${new Date(start).toISOString().slice(11, 19)} UTC)`);
  const PATH = `${join(ROOT, 'node_modules/.bin')}${delimiter}${process.env.PATH ?? ''}`; // as npm run has it
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, PATH, ...env } });
  done.push([name, (Date.now() - start) / 1000]);
  if (r.status !== 0) {
    failed = `${name} (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`;
    break;
  }
}
console.log(
  `\n== durations: ${done.map(([n, s]) => `${n} ${s.toFixed(0)} s`).join(', ')}; total ${((Date.now() - t0) / 1000).toFixed(0)} s`,
);
if (failed) {
  console.log(`== failed: ${failed}`);
  process.exit(1);
}
