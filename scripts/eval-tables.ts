// npm run eval:tables [-- FILE...]: copy the tables that `npm run eval` wrote into eval/results.md (between
// <!-- NAME:begin --> and <!-- NAME:end -->) into every file with a matching marker pair, <!-- NAME --> ... <!-- /NAME -->
// (default files: docs/*.md and README.md), each marker alone on its line (one quoted in prose is left alone). E.g. <!-- eval:summary --> <!-- /eval:summary --> gets the per-model
// summary; <!-- eval:mobilenet_v2 --> that model's tables. A marker naming no table is an error: nothing is written.
import { existsSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

/** The named tables of results.md. */
export function sections(results: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of results.matchAll(/^<!-- ([\w:.-]+):begin -->\n?([\s\S]*?)\n?^<!-- \1:end -->$/gm))
    out.set(m[1], m[2]);
  return out;
}

/** The text with each marker pair's content replaced by its table; throws naming the marker if none is known. */
export function fill(text: string, tables: Map<string, string>, file: string): string {
  return text.replace(/^<!-- ([\w:.-]+) -->\n?[\s\S]*?^<!-- \/\1 -->$/gm, (_all, name: string) => {
    const t = tables.get(name);
    if (t === undefined)
      throw new Error(
        `${file}: marker <!-- ${name} --> names no table of eval/results.md (known: ${[...tables.keys()].join(', ')})`,
      );
    return `<!-- ${name} -->\n${t}\n<!-- /${name} -->`;
  });
}

/** Fill every marked table in `files` (default: docs/*.md and README.md); returns the files changed. */
export async function copyTables(files?: string[]): Promise<string[]> {
  const tables = sections(await readFile(join(ROOT, 'eval/results.md'), 'utf8'));
  files ??= [
    ...readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => join(ROOT, 'docs', f)),
    join(ROOT, 'README.md'),
  ].filter((f) => existsSync(f));
  const updates: [string, string][] = [];
  for (const f of files) {
    const text = await readFile(f, 'utf8');
    const filled = fill(text, tables, relative(ROOT, f));
    if (filled !== text) updates.push([f, filled]);
  }
  // Written only once every file is known to be fine: a bad marker anywhere leaves them all untouched.
  for (const [f, t] of updates) await writeFile(f, t);
  return updates.map(([f]) => relative(ROOT, f));
}

async function main() {
  const args = process.argv.slice(2);
  const changed = await copyTables(args.length ? args.map((f) => join(process.cwd(), f)) : undefined);
  console.log(
    changed.length ? `eval:tables: updated ${changed.join(', ')}` : 'eval:tables: every marked table is up to date',
  );
}

if (import.meta.url === `file://${process.argv[1]}`)
  main().catch((e) => {
    console.error(e.message ?? e);
    process.exit(1);
  });
