/**
 * Fold the schema's field offsets into the built JavaScript: `mem[t + TASK.state]` becomes
 * `mem[t + 7]`, as a C compiler folds offsetof(struct task_struct, __state) into the instruction.
 *
 * The offsets live in one place, the schema (src/mm/layout.ts), and kernel code names them
 * (TASK.state, CPU.preempt_count); the TypeScript sources keep it that way. But an imported offset
 * object is, to V8's optimiser, a module variable whose value it loads and map-checks at each use,
 * even frozen with fast properties: measured on the in-process fork cycle, ~10% of its CPU time
 * (issue 15, README "The fork cycle"). This post-pass over what tsc emitted replaces each
 * `X.field` whose X is an offset object imported from mm/layout.js by the number. It changes no
 * line (the source maps' lines and the checked build's sites stay right) and is idempotent.
 *
 * Not folded: src/mm/layout.js itself, src/tools/, a module that declares a local binding with the
 * same name as an imported offset object (that name is left alone in that module), computed
 * accesses (`TASK[name]`), and anything that is not a plain read (an assignment target, a callee).
 *
 *   node dist/src/tools/fold_offsets.js [TREE ...]   (default: dist and dist-checked; run by `npm run build`)
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, type Node } from 'acorn';
import { ancestor, full } from 'acorn-walk';
import MagicString from 'magic-string';
import * as layout from '../mm/layout.js';

interface AnyNode extends Node { [k: string]: any }

/** The schema's offset objects by export name: frozen records of numbers (TASK, CPU, G, ...). */
export const OFFSET_OBJECTS: ReadonlyMap<string, Readonly<Record<string, number>>> = new Map(
  Object.entries(layout).filter(([k, v]) =>
    /^[A-Z][A-Z0-9_]*$/.test(k) && v !== null && typeof v === 'object' && !Array.isArray(v) &&
    Object.keys(v).length > 0 && Object.values(v as object).every((x) => typeof x === 'number')) as Array<[string, Record<string, number>]>,
);

/** Names a module binds itself (declarations, parameters, catch clauses), imports excluded. */
function local_bindings(ast: AnyNode): Set<string> {
  const out = new Set<string>();
  const pattern = (p: AnyNode | null | undefined): void => {
    if (!p) return;
    switch (p.type) {
      case 'Identifier': out.add(p.name); break;
      case 'ObjectPattern': for (const q of p.properties) pattern(q.type === 'RestElement' ? q.argument : q.value); break;
      case 'ArrayPattern': for (const q of p.elements) pattern(q); break;
      case 'RestElement': pattern(p.argument); break;
      case 'AssignmentPattern': pattern(p.left); break;
    }
  };
  full(ast, (n: AnyNode) => {
    if (n.type === 'VariableDeclarator') pattern(n.id);
    else if (n.type === 'FunctionDeclaration' || n.type === 'FunctionExpression' || n.type === 'ArrowFunctionExpression') {
      if (n.id) out.add(n.id.name);
      for (const p of n.params) pattern(p);
    } else if (n.type === 'ClassDeclaration' || n.type === 'ClassExpression') { if (n.id) out.add(n.id.name); }
    else if (n.type === 'CatchClause') pattern(n.param);
  });
  return out;
}

/**
 * Fold one module. `isLayout(spec)` says whether an import specifier names the schema module.
 * Returns the new source, or null when nothing was folded.
 */
export function fold_module(src: string, isLayout: (spec: string) => boolean): string | null {
  const ast = parse(src, { ecmaVersion: 'latest', sourceType: 'module' }) as AnyNode;
  const folds = new Map<string, Readonly<Record<string, number>>>(); // local name -> offsets
  for (const d of ast.body as AnyNode[]) {
    if (d.type !== 'ImportDeclaration' || !isLayout(String(d.source.value))) continue;
    for (const sp of d.specifiers as AnyNode[]) {
      if (sp.type !== 'ImportSpecifier') continue;
      const o = OFFSET_OBJECTS.get(sp.imported.name);
      if (o) folds.set(sp.local.name, o);
    }
  }
  if (folds.size === 0) return null;
  for (const n of local_bindings(ast)) folds.delete(n); // shadowed somewhere: leave that name alone
  if (folds.size === 0) return null;
  const s = new MagicString(src);
  let n = 0;
  ancestor(ast, {
    MemberExpression(node: AnyNode, _st: unknown, anc: AnyNode[]) {
      if (node.computed || node.object.type !== 'Identifier' || node.property.type !== 'Identifier') return;
      const o = folds.get(node.object.name);
      if (!o || !Object.hasOwn(o, node.property.name)) return;
      const parent = anc[anc.length - 2];
      if (parent?.type === 'AssignmentExpression' && parent.left === node) return;
      if (parent?.type === 'UpdateExpression' || (parent?.type === 'UnaryExpression' && parent.operator === 'delete')) return;
      if (parent?.type === 'CallExpression' && parent.callee === node) return;
      s.overwrite(node.start, node.end, String(o[node.property.name]));
      n++;
    },
  });
  return n > 0 ? s.toString() : null;
}

function js_files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...js_files(p));
    else if (e.name.endsWith('.js')) out.push(p);
  }
  return out;
}

/** Fold every module of a built tree (dist/ or dist-checked/). Returns the files changed. */
export function fold_tree(tree: string): number {
  const layoutJs = join(tree, 'src', 'mm', 'layout.js');
  let changed = 0;
  for (const d of ['src', 'workers']) {
    if (!existsSync(join(tree, d))) continue;
    for (const f of js_files(join(tree, d))) {
      const rel = relative(tree, f).split('\\').join('/');
      if (rel === 'src/mm/layout.js' || rel.startsWith('src/tools/')) continue;
      const res = fold_module(readFileSync(f, 'utf8'), (spec) => spec.startsWith('.') && join(dirname(f), spec) === layoutJs);
      if (res !== null) {
        writeFileSync(f, res);
        changed++;
      }
    }
  }
  return changed;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const trees = process.argv.length > 2 ? process.argv.slice(2) : [join(root, 'dist'), join(root, 'dist-checked')];
  for (const t of trees) {
    if (!existsSync(t)) continue;
    const t0 = performance.now();
    const n = fold_tree(t);
    console.log(`${relative(root, t) || t}: field offsets folded in ${n} modules (${(performance.now() - t0).toFixed(0)} ms)`);
  }
}
