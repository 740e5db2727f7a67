/**
 * src/tools/fold_offsets.ts: the build folds `TASK.state` into its number only where it is the
 * schema's offset, and leaves everything else as it was.
 */
import { describe, expect, it } from 'vitest';
import { fold_module, OFFSET_OBJECTS } from '../src/tools/fold_offsets.js';
import { CPU, TASK } from '../src/mm/layout.js';

const isLayout = (spec: string): boolean => spec === '../mm/layout.js';

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

  it('knows every offset object of the schema', () => {
    for (const k of ['TASK', 'CPU', 'G', 'PID', 'SIG', 'SLAB', 'KMEM_CACHE_CPU']) expect(OFFSET_OBJECTS.has(k)).toBe(true);
    expect(OFFSET_OBJECTS.get('TASK')).toBe(TASK);
  });
});
