// The top-level folders of src/ import one another without a cycle (camera -> element -> worker -> engine -> gpu ...),
// so that each can be read, moved or packed with only the folders below it.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.(ts|js)$/.test(name) && !name.endsWith('.d.ts') && !name.endsWith('.pb.js') ? [p] : [];
  });
}

/** The top-level folder of src/ a file lies in ('' for src/ itself). */
const folderOf = (file: string) => {
  const r = relative(SRC, file).split(sep);
  return r.length > 1 ? r[0] : '';
};

/** Folder -> the folders it imports (relative specifiers, dynamic imports and new URL(...) workers included). */
export function folderGraph(files: string[]): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  const spec = /(?:from|import\(|import|new URL\()\s*['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const file of files) {
    const from = folderOf(file);
    for (const m of readFileSync(file, 'utf8').matchAll(spec)) {
      const target = resolve(dirname(file), m[1]);
      if (!target.startsWith(SRC + sep)) continue;
      const to = folderOf(target);
      if (to === from || to === '' || from === '') continue;
      if (!graph.has(from)) graph.set(from, new Map());
      if (!graph.get(from)!.has(to)) graph.get(from)!.set(to, `${relative(SRC, file)} imports ${m[1]}`);
    }
  }
  return graph;
}

/** One cycle as its edges' explanations, or null. */
export function findCycle(graph: Map<string, Map<string, string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): string[] | null => {
    state.set(n, 'open');
    for (const [to, why] of graph.get(n) ?? []) {
      path.push(why);
      if (state.get(to) === 'open') {
        const start = path.findIndex((w) => w.startsWith(to + sep) || w.startsWith(to + '/'));
        return path.slice(Math.max(0, start));
      }
      if (!state.has(to)) {
        const c = visit(to);
        if (c) return c;
      }
      path.pop();
    }
    state.set(n, 'done');
    return null;
  };
  for (const n of graph.keys())
    if (!state.has(n)) {
      const c = visit(n);
      if (c) return c;
    }
  return null;
}

describe('imports between the top-level folders of src/', () => {
  it('form no cycle', () => {
    const cycle = findCycle(folderGraph(sources(SRC)));
    expect(cycle, cycle ? `import cycle:\n  ${cycle.join('\n  ')}` : '').toBeNull();
  });

  it('the element imports nothing from the app', () => {
    expect([...(folderGraph(sources(SRC)).get('element')?.keys() ?? [])]).not.toContain('app');
  });

  it('finds a cycle when there is one (the check itself)', () => {
    const g = new Map([
      ['a', new Map([['b', 'a/x.ts imports ../b/y.ts']])],
      ['b', new Map([['a', 'b/y.ts imports ../a/x.ts']])],
    ]);
    expect(findCycle(g)).toEqual(['a/x.ts imports ../b/y.ts', 'b/y.ts imports ../a/x.ts']);
    expect(findCycle(new Map([['a', new Map([['b', 'a->b']])]]))).toBeNull();
  });
});
