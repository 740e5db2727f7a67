/**
 * The layering of docs/CONTRIBUTING-model.md, enforced on the import statements of the sources
 * (static `import`/`export ... from`, side-effect `import '...'` and literal `import('...')`).
 *
 * Layers, lowest first; a file may import its own layer and the layers below it:
 *   base    src/config (bug switches, like Kconfig), src/lib (the PRNG): import nothing of the project
 *   core    src/mm, src/locking, src/rcu, src/sched, src/tracing: the primitives (they use each other)
 *   kernel  src/kernel: the modelled kernel
 *   worker  workers/ and the worker-side half of src/stress (the stress operations the CPUs run,
 *           a user of the kernel): what a CPU worker thread loads
 *   main    everything else (Machine, API, CLI, detection reports, conformance, replay, scenarios,
 *           tools, bench): may import anything
 * and, over the whole graph, nothing a CPU worker loads (workers/cpu.ts and all it imports,
 * transitively) is main-side code.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tsFiles } from './source_files.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The worker-side half of src/stress: registered and run on the CPUs (workers/cpu.ts imports it). */
export const STRESS_WORKER_SIDE = ['src/stress/stress_syscalls.ts', 'src/stress/kernel_ops.ts', 'src/stress/ops.ts', 'src/stress/checks.ts'];

type Layer = 'base' | 'core' | 'kernel' | 'worker' | 'main';
const RANK: Record<Layer, number> = { base: 0, core: 1, kernel: 2, worker: 3, main: 4 };

export function layerOf(file: string): Layer {
  if (/^src\/(config|lib)\//.test(file)) return 'base';
  if (/^src\/(mm|locking|rcu|sched|tracing)\//.test(file)) return 'core';
  if (file.startsWith('src/kernel/')) return 'kernel';
  if (file.startsWith('workers/') || STRESS_WORKER_SIDE.includes(file)) return 'worker';
  return 'main';
}


/** Module specifiers of every import of a source text (comments are skipped). */
export function importsOf(src: string): string[] {
  const code = src.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, ' ');
  const out: string[] = [];
  const re = /(?:^|[;\n])\s*(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s*['"]([^'"]+)['"]|(?:^|[;\n])\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of code.matchAll(re)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

/** The project graph: file -> project files it imports (relative specifiers resolved, .js -> .ts). */
export function importGraph(root = ROOT): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const dir of ['src', 'workers', 'bench', 'test']) {
    for (const f of tsFiles(join(root, dir))) {
      const rel = relative(root, f).split('\\').join('/');
      if (rel === 'test/import_graph.test.ts') continue; // its examples are strings, not imports
      const deps = importsOf(readFileSync(f, 'utf8'))
        .filter((s) => s.startsWith('.'))
        .map((s) => relative(root, normalize(join(dirname(f), s))).split('\\').join('/').replace(/\.js$/, '.ts'));
      g.set(rel, deps);
    }
  }
  return g;
}

/** Edges from a file to a higher layer (the layering rule's violations). */
export function upwardEdges(g: Map<string, string[]>): string[] {
  const bad: string[] = [];
  for (const [f, deps] of g) {
    const lf = layerOf(f);
    if (lf === 'main') continue;
    for (const d of deps) if (RANK[layerOf(d)] > RANK[lf]) bad.push(`${f} (${lf}) -> ${d} (${layerOf(d)})`);
  }
  return bad.sort();
}

/** Main-side files a CPU worker loads, with the import chain that brings each in. */
export function workerLoadsMainSide(g: Map<string, string[]>, entry = 'workers/cpu.ts'): string[] {
  const via = new Map<string, string>([[entry, '']]);
  const todo = [entry];
  while (todo.length) {
    const f = todo.pop()!;
    for (const d of g.get(f) ?? []) if (!via.has(d)) { via.set(d, f); todo.push(d); }
  }
  const bad: string[] = [];
  for (const f of via.keys()) {
    if (layerOf(f) !== 'main') continue;
    const chain = [f];
    for (let x = via.get(f)!; x; x = via.get(x)!) chain.push(x);
    bad.push(chain.reverse().join(' -> '));
  }
  return bad.sort();
}

describe('import graph: the layering of docs/CONTRIBUTING-model.md', () => {
  const g = importGraph();

  it('reads the imports of every source file', () => {
    expect(g.size).toBeGreaterThan(100);
    expect(importsOf("import { a } from './x.js';\nimport type { B } from \"../y.js\";\nimport './z.js';\nexport { c } from './w.js';\nconst m = await import('./v.js');"))
      .toEqual(['./x.js', '../y.js', './z.js', './w.js', './v.js']);
    expect(g.get('workers/cpu.ts')!.length).toBeGreaterThan(3);
    for (const f of STRESS_WORKER_SIDE) expect(g.has(f), f).toBe(true);
  });

  it('every relative import resolves to a source file (tsc does not check test/, so a rename is caught here)', () => {
    const missing: string[] = [];
    for (const [f, deps] of g) for (const d of deps) if (!existsSync(join(ROOT, d))) missing.push(`${f} -> ${d}`);
    expect(missing).toEqual([]);
  });

  it('no file imports a layer above its own (config/lib < mm/locking/rcu/sched/tracing < kernel < worker < main)', () => {
    expect(upwardEdges(g)).toEqual([]);
  });

  it('a CPU worker loads no main-side code, directly or through what it imports', () => {
    expect(workerLoadsMainSide(g)).toEqual([]);
  });
});
