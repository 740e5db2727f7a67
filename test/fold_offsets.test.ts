/**
 * src/tools/fold_offsets.ts: the build folds `TASK.state` and imported `export const` integers into
 * their numbers only where they are the schema's offsets and the kernel's constants, and leaves
 * everything else as it was.
 */
import { describe, expect, it } from 'vitest';
import { fold_module, module_consts, OFFSET_OBJECTS } from '../src/tools/fold_offsets.js';
import { CPU, TASK } from '../src/mm/layout.js';

const consts = new Map([['SL_VAL', 0], ['NEG', -3], ['BIAS', 256]]);
const isLayout = (spec: string): { offsets: boolean; consts: ReadonlyMap<string, number> } | null =>
  spec === '../mm/layout.js' ? { offsets: true, consts } : spec === './elsewhere.js' ? { offsets: false, consts: new Map() } : null;

describe('fold_offsets', () => {
  it('folds reads of imported offsets into their numbers, on the same lines', () => {
    const src = [
      "import { CPU, TASK as T } from '../mm/layout.js';",
      'export function f(m, t, c) {',
      '  m[c + CPU.preempt_count]++;',
      '  return Atomics.load(m, t + T.state) + T.SIZE;',
      '}',
    ].join('\n');
    const out = fold_module(src, isLayout)!;
    expect(out).not.toBeNull();
    expect(out.split('\n')).toHaveLength(5);
    expect(out).toContain(`m[c + ${CPU.preempt_count}]++;`);
    expect(out).toContain(`Atomics.load(m, t + ${TASK.state}) + ${TASK.SIZE};`);
    expect(fold_module(out, isLayout)).toBeNull(); // idempotent
  });

  it('leaves shadowed names, other modules\' objects, computed keys, writes and unknown fields alone', () => {
    const src = [
      "import { CPU, TASK } from '../mm/layout.js';",
      "import { PID } from './elsewhere.js';",
      'export function f(m, t, name) {',
      '  const g = (CPU) => CPU.curr;', // a parameter named CPU: not the schema's
      '  TASK.state = 1;',
      '  return m[t + TASK[name]] + PID.count + TASK.no_such_field + g({ curr: 1 });',
      '}',
    ].join('\n');
    const out = fold_module(src, isLayout);
    expect(out).toBeNull();
  });

  it('folds imported integer constants; leaves shadowed ones, keys, writes and other imports alone', () => {
    const src = [
      "import { SL_VAL, NEG, BIAS } from '../mm/layout.js';",
      "import { OTHER } from './elsewhere.js';",
      'export function f(m, lock) { const o = { SL_VAL, k: NEG }; return m[lock + SL_VAL] + o.SL_VAL + BIAS.toString().length + OTHER + NEG; }',
      'function g(BIAS) { return BIAS; }',
    ].join('\n');
    const out = fold_module(src, isLayout)!;
    expect(out).toContain('m[lock + 0]');
    expect(out).toContain('{ SL_VAL: 0, k: (-3) }');
    expect(out).toContain('o.SL_VAL'); // a property name, not the binding
    expect(out).toContain('BIAS.toString()'); // shadowed in g: left alone in this module
    expect(out).toContain('+ OTHER + (-3)');
  });

  it('takes only compile-time constants: literals, arithmetic, other constants, schema offsets', () => {
    const src = [
      "import { TASK, NR } from '../mm/layout.js';",
      "import { lock_class_register } from '../locking/lockdep.js';",
      'const K = 1 << 3;',
      'export const A = K | 1, B = -A, C = TASK.SIZE + NR, D = A * 2;',
      "export const LC = lock_class_register('x');", // a run-time value (the order modules load in)
      'export let L = 5;', // changes
      'export const F = 1.5, S = "s", E = LC + 1, G = Date.now();',
    ].join('\n');
    const t = module_consts(src, (spec, n) => (spec === '../mm/layout.js' && n === 'NR' ? 7 : undefined), (spec) => spec === '../mm/layout.js', false);
    expect(Object.fromEntries(t)).toEqual({ A: 9, B: -9, C: TASK.SIZE + 7, D: 18 });
  });

  it('knows every offset object of the schema', () => {
    for (const k of ['TASK', 'CPU', 'G', 'PID', 'SIG', 'SLAB', 'KMEM_CACHE_CPU']) expect(OFFSET_OBJECTS.has(k)).toBe(true);
    expect(OFFSET_OBJECTS.get('TASK')).toBe(TASK);
  });
});
