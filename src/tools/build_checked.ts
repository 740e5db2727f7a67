/**
 * Build the checked tree (dist-checked/) for `--check-guards`: a copy of dist/ in which every
 * access of a schema field by kernel code is checked against the field's guard.
 *
 * A post-pass over the JavaScript tsc emitted (TypeScript 7 has no custom-transformer API): acorn
 * parses each kernel module, magic-string edits it in place (source maps are not needed: site
 * names come from the table written here). Rewrites:
 *
 *   mem[B + TASK.children + k]          -> mem[__guard_access(B, FID, SITE) + TASK.children + k]
 *   Atomics.op(mem, B + PID.count, ...)  -> Atomics.op(mem, __guard_access(B, FID, SITE) + PID.count, ...)
 *   rcu_dereference_check(p, ...)        -> rcu_dereference_check(__guard_rcu_dereference(p, SITE), ...)
 *   kmem_cache_alloc(...)                -> __guard_alloc(kmem_cache_alloc(...))
 *   / * @guard-hook NAME(ARGS) * /       -> __guard_NAME(ARGS);
 *   data_race(...)                       -> unchanged: the accesses inside are not checked
 *
 * __guard_access returns B, so the access is the same one; only the check is added. The normal
 * build (dist/) is not touched and pays nothing. FID numbers GUARD_FIELDS of
 * src/locking/guard_check.ts; SITE is id * 4 + write + 2 * marked (Atomics), with the id's function
 * and file in dist-checked/guard_sites.json (read by the report, src/detect/guard_report.ts).
 *
 * Usage: node dist/src/tools/build_checked.js   (run by `npm run build` after tsc)
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, type Node } from 'acorn';
import { ancestor } from 'acorn-walk';
import MagicString from 'magic-string';
import { decode } from '@jridgewell/sourcemap-codec';
import { GUARD_FIELDS, SITE_MARKED, SITE_WRITE } from '../locking/guard_check.js';

/** Directories of dist/ whose modules are kernel code a CPU runs (the checked ones). */
export const CHECKED_DIRS = ['src/kernel', 'src/rcu', 'src/sched'];
/**
 * Kernel modules left as they are: the audit walks a stopped machine, as a debugger would. (The
 * stress harness, src/stress, plays user space: what it peeks at to pick its next system call is
 * not kernel code and is not checked.)
 */
const UNCHECKED = new Set(['src/kernel/audit.js']);

export interface GuardSite { file: string; fn: string; field: string; write: boolean; marked: boolean; line: number }
export interface GuardSiteTable { sites: GuardSite[]; fns: string[] }

interface AnyNode extends Node { [k: string]: any }

const FIELD_ID = new Map<string, number>(GUARD_FIELDS.map((f) => [`${f.ident}.${f.name}`, f.id]));
const IDENTS = new Set(GUARD_FIELDS.map((f) => f.ident));

function fn_name(anc: AnyNode[]): string {
  for (let i = anc.length - 1; i >= 0; i--) {
    const a = anc[i]!;
    if ((a.type === 'FunctionDeclaration' || a.type === 'FunctionExpression') && a.id) return a.id.name;
    if (a.type === 'MethodDefinition' || a.type === 'Property') if (a.key?.type === 'Identifier' && (a.value?.type === 'FunctionExpression' || a.value?.type === 'ArrowFunctionExpression')) return a.key.name;
    if (a.type === 'VariableDeclarator' && a.id?.type === 'Identifier' && (a.init?.type === 'ArrowFunctionExpression' || a.init?.type === 'FunctionExpression')) return a.id.name;
  }
  return '(module)';
}

/** In `B + S.f + k` (left-associative), the `+` node whose right operand is the field term. */
function field_term(idx: AnyNode): { plus: AnyNode; key: string } | null {
  let n: AnyNode = idx;
  // Walk down the left spine: ((B + S.f) + k1) + k2 ...
  while (n.type === 'BinaryExpression' && n.operator === '+') {
    const r = n.right as AnyNode;
    if (r.type === 'MemberExpression' && !r.computed && r.object.type === 'Identifier' && IDENTS.has(r.object.name) && r.property.type === 'Identifier') {
      const key = `${r.object.name}.${r.property.name}`;
      if (FIELD_ID.has(key)) return { plus: n, key };
    }
    n = n.left as AnyNode;
  }
  return null;
}

/** The TypeScript line of each emitted line (tsc's source map), for the reports. */
function ts_lines(map: string | undefined): (jsLine: number) => number {
  if (!map) return (l) => l;
  const lines = decode((JSON.parse(map) as { mappings: string }).mappings);
  return (l) => (lines[l - 1]?.[0]?.[2] ?? l - 1) + 1;
}

export function transform_module(src: string, file: string, table: GuardSiteTable, guardImport: string, map?: string): string | null {
  const ast = parse(src, { ecmaVersion: 'latest', sourceType: 'module', locations: true }) as AnyNode;
  const s = new MagicString(src);
  const tsLine = ts_lines(map);
  let used = false;
  const site = (anc: AnyNode[], key: string, write: boolean, marked: boolean, line: number): number => {
    table.sites.push({ file, fn: fn_name(anc), field: key, write, marked, line: tsLine(line) });
    return table.sites.length * 4 + (write ? SITE_WRITE : 0) + (marked ? SITE_MARKED : 0);
  };
  const wrap = (plus: AnyNode, key: string, sid: number): void => {
    const b = plus.left as AnyNode;
    s.appendLeft(b.start, '__guard_access(');
    s.prependRight(b.end, `, ${FIELD_ID.get(key)}, ${sid})`);
    used = true;
  };
  /** Inside data_race(...): a deliberate race, not instrumented (KCSAN's rule). */
  const racy = (anc: AnyNode[]): boolean => anc.some((a) => a.type === 'CallExpression' && a.callee.type === 'Identifier' && a.callee.name === 'data_race');
  ancestor(ast, {
    MemberExpression(node: AnyNode, _st: unknown, anc: AnyNode[]) {
      if (!node.computed || node.object.type !== 'Identifier' || racy(anc)) return;
      const t = field_term(node.property);
      if (!t) return;
      const parent = anc[anc.length - 2];
      const write = (parent?.type === 'AssignmentExpression' && parent.left === node) || parent?.type === 'UpdateExpression';
      wrap(t.plus, t.key, site(anc, t.key, write, false, (node.loc?.start.line ?? 0)));
    },
    CallExpression(node: AnyNode, _st: unknown, anc: AnyNode[]) {
      const c = node.callee;
      if (c.type === 'MemberExpression' && c.object.type === 'Identifier' && c.object.name === 'Atomics' && c.property.type === 'Identifier') {
        const op = c.property.name;
        if (op === 'wait' || op === 'notify' || op === 'waitAsync' || node.arguments.length < 2 || racy(anc)) return;
        const t = field_term(node.arguments[1]);
        if (!t) return;
        wrap(t.plus, t.key, site(anc, t.key, op !== 'load', true, (node.loc?.start.line ?? 0)));
        return;
      }
      if (c.type === 'Identifier' && c.name === 'rcu_dereference_check' && node.arguments.length > 0) {
        const sid = site(anc, 'rcu_dereference_check', false, true, (node.loc?.start.line ?? 0));
        const a0 = node.arguments[0];
        s.appendLeft(a0.start, '__guard_rcu_dereference(');
        s.prependRight(a0.end, `, ${sid})`);
        used = true;
      } else if (c.type === 'Identifier' && c.name === 'kmem_cache_alloc') {
        s.appendLeft(node.start, '__guard_alloc(');
        s.prependRight(node.end, ')');
        used = true;
      }
    },
  });
  for (const m of src.matchAll(/\/\* @guard-hook (\w+)\(([^)]*)\) \*\//g)) {
    s.overwrite(m.index, m.index + m[0].length, `__guard_${m[1]}(${m[2]});`);
    used = true;
  }
  if (!used) return null;
  s.prepend(`import { __guard_access, __guard_alloc, __guard_rcu_dereference, __guard_syscall_end } from '${guardImport}';\n`);
  return s.toString();
}

function collect_fns(src: string, into: Set<string>): void {
  const ast = parse(src, { ecmaVersion: 'latest', sourceType: 'module' }) as AnyNode;
  ancestor(ast, {
    Function(node: AnyNode, _st: unknown, anc: AnyNode[]) {
      const n = node.id?.name ?? fn_name(anc);
      if (n !== '(module)') into.add(n);
    },
  });
}

/** Every .js file below dir (the built modules the checked and the folding passes rewrite). */
export function js_files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...js_files(p));
    else if (e.name.endsWith('.js')) out.push(p);
  }
  return out;
}

/** Copy dist/ to dist-checked/ and rewrite the kernel modules. Returns the site table. */
export function build_checked(root: string): GuardSiteTable {
  const dist = join(root, 'dist');
  const final = join(root, 'dist-checked');
  // Built beside the old tree and swapped in at the end: a run that starts meanwhile loads one
  // whole tree or the other.
  const out = `${final}.${process.pid}.tmp`;
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run tsc first`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  for (const d of ['src', 'workers']) cpSync(join(dist, d), join(out, d), { recursive: true });
  const table: GuardSiteTable = { sites: [], fns: [] };
  const fns = new Set<string>();
  for (const entry of CHECKED_DIRS) {
    const abs = join(out, entry);
    const files = entry.endsWith('.js') ? [abs] : js_files(abs);
    for (const f of files) {
      const rel = relative(out, f).split('\\').join('/');
      if (UNCHECKED.has(rel)) continue;
      const src = readFileSync(f, 'utf8');
      collect_fns(src, fns);
      let imp = relative(dirname(f), join(out, 'src/locking/guard_check.js')).split('\\').join('/');
      if (!imp.startsWith('.')) imp = `./${imp}`;
      const map = existsSync(`${f}.map`) ? readFileSync(`${f}.map`, 'utf8') : undefined;
      const res = transform_module(src, rel.replace(/\.js$/, '.ts'), table, imp, map);
      if (res !== null) writeFileSync(f, res);
    }
  }
  table.fns = [...fns].sort();
  // The checker records stacks as function ids: give it the table (the normal build has none).
  const gc = join(out, 'src/locking/guard_check.js');
  writeFileSync(gc, `${readFileSync(gc, 'utf8')}\nset_guard_fn_table(${JSON.stringify(table.fns)});\n`);
  writeFileSync(join(out, 'guard_sites.json'), JSON.stringify(table));
  writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n');
  rmSync(final, { recursive: true, force: true });
  renameSync(out, final);
  return table;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const t0 = performance.now();
  const t = build_checked(root);
  console.log(`dist-checked: ${t.sites.length} checked access sites, ${t.fns.length} functions (${Math.round(performance.now() - t0)} ms)`);
}
