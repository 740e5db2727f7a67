/**
 * Fold the schema's field offsets and the kernel's numeric constants into the built JavaScript:
 * `mem[t + TASK.state]` becomes `mem[t + 7]` and `lock + SL_VAL` becomes `lock + 0`, as a C compiler
 * folds offsetof(struct task_struct, __state) and a #define into the instruction.
 *
 * The offsets live in one place, the schema (src/mm/layout.ts), and kernel code names them
 * (TASK.state, CPU.preempt_count); the TypeScript sources keep it that way. But an imported offset
 * object is, to V8's optimiser, a module variable whose value it loads and map-checks at each use,
 * even frozen with fast properties: measured on the in-process fork cycle, ~10% of its CPU time
 * (issue 15, README "The fork cycle"); an imported `export const SL_VAL = 0` costs the same load
 * (another ~15%). This post-pass over what tsc emitted replaces each `X.field` whose X is an
 * offset object imported from mm/layout.js, and each imported binding that its module exports as
 * `export const NAME = <constant expression>` (const_value: evaluated from the source, never by
 * running it), by the number. It changes no line (the source
 * maps' lines and the checked build's sites stay right) and is idempotent. Only the kernel's
 * modules are folded (KERNEL_DIRS: what a CPU runs), with constants from kernel modules.
 *
 * Not folded: src/mm/layout.js's own offset objects (it defines them), a module that declares a
 * local binding with the same name as an imported one (that name is left alone in that module),
 * `export let` bindings (this_cpu, mem: they change), computed accesses (`TASK[name]`), and
 * anything that is not a plain read (an assignment target, a callee).
 *
 *   node dist/src/tools/fold_offsets.js [TREE ...]   (default: dist and dist-checked; run by `npm run build`)
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, type Node } from 'acorn';
import { ancestor, full } from 'acorn-walk';
import MagicString from 'magic-string';
import * as layout from '../mm/layout.js';
import { js_files } from './build_checked.js';

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

/** Integer constants a module exports as `export const NAME = ...`, by name. */
export type ConstTable = ReadonlyMap<string, number>;

/**
 * The integer value of a constant expression, or undefined: number literals, unary and binary
 * arithmetic on them, other constants (`name(id)`) and schema offsets (`X.field` where X is an
 * offset object: `member`). Anything else (a call, a `let`, a conditional) is not a compile-time
 * constant: `export const LC_FA_LOCK = lock_class_register(...)` depends on the order modules load
 * in, and is never folded.
 */
export function const_value(n: AnyNode, name: (id: string) => number | undefined, member: (obj: string, field: string) => number | undefined): number | undefined {
  let v: number | undefined;
  switch (n.type) {
    case 'Literal': v = typeof n.value === 'number' ? n.value : undefined; break;
    case 'Identifier': v = name(n.name); break;
    case 'MemberExpression':
      v = !n.computed && n.object.type === 'Identifier' && n.property.type === 'Identifier' ? member(n.object.name, n.property.name) : undefined;
      break;
    case 'UnaryExpression': {
      const a = const_value(n.argument, name, member);
      if (a !== undefined) v = n.operator === '-' ? -a : n.operator === '+' ? a : n.operator === '~' ? ~a : undefined;
      break;
    }
    case 'BinaryExpression': {
      const a = const_value(n.left, name, member);
      const b = a === undefined ? undefined : const_value(n.right, name, member);
      if (a === undefined || b === undefined) break;
      switch (n.operator) {
        case '+': v = a + b; break;
        case '-': v = a - b; break;
        case '*': v = a * b; break;
        case '/': v = a / b; break;
        case '%': v = a % b; break;
        case '<<': v = a << b; break;
        case '>>': v = a >> b; break;
        case '>>>': v = a >>> b; break;
        case '|': v = a | b; break;
        case '&': v = a & b; break;
        case '^': v = a ^ b; break;
        case '**': v = a ** b; break;
      }
      break;
    }
  }
  return v !== undefined && Number.isSafeInteger(v) && !Object.is(v, -0) ? v : undefined;
}

/**
 * The integer constants a module exports (`export const NAME = <constant expression>`), by name.
 * `imported(spec, name)` gives the value of a constant another module exports (for chains such as
 * `export const CA_FLAGS = CLONE_ARGS.flags`), `layoutSpec(spec)` whether an import names the schema
 * module, and `isLayout` whether this is the schema module itself.
 */
export function module_consts(src: string, imported: (spec: string, name: string) => number | undefined, layoutSpec: (spec: string) => boolean, isLayout: boolean): Map<string, number> {
  const ast = parse(src, { ecmaVersion: 'latest', sourceType: 'module' }) as AnyNode;
  const inits = new Map<string, AnyNode>(); // module-level const declarations
  const exported: string[] = [];
  const imports = new Map<string, { spec: string; name: string }>();
  for (const d of ast.body as AnyNode[]) {
    const decl = d.type === 'ExportNamedDeclaration' ? d.declaration : d;
    if (d.type === 'ImportDeclaration') {
      for (const sp of d.specifiers as AnyNode[]) if (sp.type === 'ImportSpecifier') imports.set(sp.local.name, { spec: String(d.source.value), name: sp.imported.name });
    }
    if (decl?.type !== 'VariableDeclaration' || decl.kind !== 'const') continue;
    for (const v of decl.declarations as AnyNode[]) {
      if (v.id.type !== 'Identifier' || !v.init) continue;
      inits.set(v.id.name, v.init);
      if (d.type === 'ExportNamedDeclaration') exported.push(v.id.name);
    }
  }
  const memo = new Map<string, number | undefined>();
  const name = (id: string): number | undefined => {
    if (memo.has(id)) return memo.get(id);
    memo.set(id, undefined); // a cycle is not a constant
    let v: number | undefined;
    const init = inits.get(id);
    if (init) v = const_value(init, name, member);
    else { const im = imports.get(id); if (im) v = imported(im.spec, im.name); }
    memo.set(id, v);
    return v;
  };
  const member = (obj: string, field: string): number | undefined => {
    const im = imports.get(obj);
    const o = im ? (layoutSpec(im.spec) ? OFFSET_OBJECTS.get(im.name) : undefined) : isLayout && inits.has(obj) ? OFFSET_OBJECTS.get(obj) : undefined;
    return o && Object.hasOwn(o, field) ? o[field] : undefined;
  };
  const out = new Map<string, number>();
  for (const e of exported) {
    const v = name(e);
    if (v !== undefined) out.set(e, v);
  }
  return out;
}

/**
 * Fold one module. `resolve(spec)` gives, for an import specifier, the offset objects and the
 * integer constants the imported module exports (null: a module not folded from). Returns the new
 * source, or null when nothing was folded.
 */
export function fold_module(src: string, resolve: (spec: string) => { offsets: boolean; consts: ConstTable } | null): string | null {
  const ast = parse(src, { ecmaVersion: 'latest', sourceType: 'module' }) as AnyNode;
  const offsets = new Map<string, Readonly<Record<string, number>>>(); // local name -> offsets
  const consts = new Map<string, number>(); // local name -> value
  for (const d of ast.body as AnyNode[]) {
    if (d.type !== 'ImportDeclaration') continue;
    const r = resolve(String(d.source.value));
    if (!r) continue;
    for (const sp of d.specifiers as AnyNode[]) {
      if (sp.type !== 'ImportSpecifier') continue;
      const o = r.offsets ? OFFSET_OBJECTS.get(sp.imported.name) : undefined;
      if (o) offsets.set(sp.local.name, o);
      const v = r.consts.get(sp.imported.name);
      if (v !== undefined) consts.set(sp.local.name, v);
    }
  }
  for (const n of local_bindings(ast)) { offsets.delete(n); consts.delete(n); } // shadowed somewhere: leave that name alone
  if (offsets.size === 0 && consts.size === 0) return null;
  const s = new MagicString(src);
  const num = (v: number): string => (v < 0 || Object.is(v, -0) ? `(${v})` : String(v));
  let n = 0;
  ancestor(ast, {
    MemberExpression(node: AnyNode, _st: unknown, anc: AnyNode[]) {
      if (node.computed || node.object.type !== 'Identifier' || node.property.type !== 'Identifier') return;
      const o = offsets.get(node.object.name);
      if (!o || !Object.hasOwn(o, node.property.name)) return;
      const parent = anc[anc.length - 2];
      if (parent?.type === 'AssignmentExpression' && parent.left === node) return;
      if (parent?.type === 'UpdateExpression' || (parent?.type === 'UnaryExpression' && parent.operator === 'delete')) return;
      if (parent?.type === 'CallExpression' && parent.callee === node) return;
      s.overwrite(node.start, node.end, num(o[node.property.name]!));
      n++;
    },
    Identifier(node: AnyNode, _st: unknown, anc: AnyNode[]) {
      const v = consts.get(node.name);
      if (v === undefined) return;
      const p = anc[anc.length - 2];
      if (!p) return;
      // Only references: not an import/export specifier, a property name or key, or a write.
      if (p.type === 'ImportSpecifier' || p.type === 'ExportSpecifier') return;
      if ((p.type === 'MemberExpression' || p.type === 'MethodDefinition' || p.type === 'PropertyDefinition') && (p.property === node || p.key === node) && !p.computed) return;
      if (p.type === 'Property' && p.key === node && !p.computed && !p.shorthand) return;
      if ((p.type === 'AssignmentExpression' && p.left === node) || p.type === 'UpdateExpression') return;
      if (p.type === 'LabeledStatement' || p.type === 'BreakStatement' || p.type === 'ContinueStatement') return;
      if (p.type === 'Property' && p.shorthand) {
        if (p.value !== node) return; // acorn copies a shorthand's key into its value: write it once
        s.overwrite(node.start, node.end, `${node.name}: ${num(v)}`);
      } else if (p.type === 'MemberExpression' && p.object === node) s.overwrite(node.start, node.end, `(${v})`);
      else s.overwrite(node.start, node.end, num(v));
      n++;
    },
  });
  return n > 0 ? s.toString() : null;
}

/** The Atomics functions the kernel's marked accesses use, and their names in AtomicOps. */
const ATOMIC_OPS = new Set(['load', 'store', 'add', 'sub', 'and', 'or', 'exchange', 'compareExchange']);

/**
 * Route one module's marked accesses to the machine's WebAssembly atomics (src/mm/wasm_atomics.ts):
 * `Atomics.op(mem, i, ...)` becomes `__atomic.op(i, ...)`, where `mem` is the live view imported
 * from mm/memory.js (any other array, a local alias included, is left alone), and
 * `import { atomic as __atomic } from '<wasmAtomicsSpec>'` is put at the start of the first line
 * (no line moves). Returns the new source, or null when the module makes no such call.
 */
export function route_atomics(src: string, isMemorySpec: (spec: string) => boolean, wasmAtomicsSpec: string): string | null {
  const ast = parse(src, { ecmaVersion: 'latest', sourceType: 'module' }) as AnyNode;
  let memLocal: string | null = null;
  for (const d of ast.body as AnyNode[]) {
    if (d.type !== 'ImportDeclaration' || !isMemorySpec(String(d.source.value))) continue;
    for (const sp of d.specifiers as AnyNode[]) if (sp.type === 'ImportSpecifier' && sp.imported.name === 'mem') memLocal = sp.local.name;
  }
  if (memLocal === null || local_bindings(ast).has(memLocal) || local_bindings(ast).has('__atomic')) return null;
  const s = new MagicString(src);
  const mv = memLocal;
  // `const m = mem` at the top of an enclosing function (the hot paths' one load of the live
  // binding) makes m the same view; a parameter or any other binding of that name does not.
  const aliasOfMem = (name: string, anc: AnyNode[]): boolean => {
    for (let i = anc.length - 2; i >= 0; i--) {
      const f = anc[i]!;
      if (f.type !== 'FunctionDeclaration' && f.type !== 'FunctionExpression' && f.type !== 'ArrowFunctionExpression') continue;
      if ((f.params as AnyNode[]).some((p) => p.type === 'Identifier' && p.name === name)) return false;
      if (f.body.type !== 'BlockStatement') continue;
      for (const st of f.body.body as AnyNode[]) {
        if (st.type !== 'VariableDeclaration') continue;
        for (const d of st.declarations as AnyNode[]) {
          if (d.id.type === 'Identifier' && d.id.name === name) return st.kind === 'const' && d.init?.type === 'Identifier' && d.init.name === mv;
        }
      }
    }
    return false;
  };
  let n = 0;
  ancestor(ast, {
    CallExpression(node: AnyNode, _st: unknown, anc: AnyNode[]) {
      const c = node.callee;
      if (c.type !== 'MemberExpression' || c.computed || c.object.type !== 'Identifier' || c.object.name !== 'Atomics') return;
      if (!ATOMIC_OPS.has(c.property.name) || node.arguments.length < 2) return;
      const a0 = node.arguments[0];
      if (a0.type !== 'Identifier' || (a0.name !== mv && !aliasOfMem(a0.name, anc))) return;
      s.overwrite(c.start, node.arguments[1].start, `__atomic.${c.property.name}(`);
      n++;
    },
  });
  if (n === 0) return null;
  s.prepend(`import { atomic as __atomic } from '${wasmAtomicsSpec}'; `);
  return s.toString();
}

/** Directories of a built tree whose modules a CPU runs: folded, and folded from. */
export const KERNEL_DIRS = ['src/kernel', 'src/mm', 'src/locking', 'src/rcu', 'src/sched', 'src/tracing', 'src/lib', 'src/config', 'workers'];

/**
 * Fold every kernel module of a built tree (dist/ or dist-checked/); with `atomics`, also route its
 * marked accesses to the WebAssembly atomics (route_atomics: dist/ only, the checked build keeps
 * the Atomics calls its guard checker instruments). Returns the files changed.
 */
export async function fold_tree(tree: string, atomics = false): Promise<number> {
  const layoutJs = join(tree, 'src', 'mm', 'layout.js');
  const inKernel = (f: string): boolean => KERNEL_DIRS.some((d) => !relative(join(tree, d), f).startsWith('..'));
  // Every kernel module's integer `export const`s, evaluated from the sources (never by running
  // them), before any file is rewritten.
  const tables = new Map<string, ConstTable>();
  const files: string[] = [];
  for (const d of KERNEL_DIRS) if (existsSync(join(tree, d))) files.push(...js_files(join(tree, d)));
  const table = (f: string): ConstTable => {
    let t = tables.get(f);
    if (t) return t;
    tables.set(f, new Map()); // an import cycle sees nothing from the module still being read
    const target = (spec: string): string | null => (spec.startsWith('.') && inKernel(join(dirname(f), spec)) ? join(dirname(f), spec) : null);
    t = existsSync(f) ? module_consts(readFileSync(f, 'utf8'), (spec, nm) => {
      const to = target(spec);
      return to === null ? undefined : table(to).get(nm);
    }, (spec) => target(spec) === layoutJs, f === layoutJs) : new Map();
    tables.set(f, t);
    return t;
  };
  for (const f of files) table(f);
  let changed = 0;
  for (const f of files) {
    const res = fold_module(readFileSync(f, 'utf8'), (spec) => {
      if (!spec.startsWith('.')) return null;
      const target = join(dirname(f), spec);
      if (!inKernel(target)) return null;
      return { offsets: target === layoutJs && f !== layoutJs, consts: tables.get(target) ?? new Map() };
    });
    let out = res;
    if (atomics) {
      const memoryJs = join(tree, 'src', 'mm', 'memory.js');
      let spec = relative(dirname(f), join(tree, 'src', 'mm', 'wasm_atomics.js')).split('\\').join('/');
      if (!spec.startsWith('.')) spec = `./${spec}`;
      const routed = route_atomics(out ?? readFileSync(f, 'utf8'), (sp) => sp.startsWith('.') && join(dirname(f), sp) === memoryJs, spec);
      if (routed !== null) out = routed;
    }
    if (out !== null) {
      writeFileSync(f, out);
      changed++;
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
    const n = await fold_tree(t, basename(t) !== 'dist-checked');
    console.log(`${relative(root, t) || t}: field offsets and constants folded in ${n} kernel modules (${(performance.now() - t0).toFixed(0)} ms)`);
  }
}
