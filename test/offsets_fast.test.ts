/**
 * The schema's offset objects (TASK, CPU, G, ... of src/mm/layout.ts) have fast properties: every
 * kernel field access reads one, and in V8's dictionary mode each `TASK.state` would be a hash
 * lookup instead of a constant the optimiser folds (issue 15: ~4% of a fork cycle).
 */
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import * as layout from '../src/mm/layout.js';

setFlagsFromString('--allow-natives-syntax');
const hasFastProperties = new Function('o', 'return %HasFastProperties(o);') as (o: object) => boolean;

const offsetObjects = Object.entries(layout).filter(([k, v]) =>
  /^[A-Z][A-Z0-9_]*$/.test(k) && v !== null && typeof v === 'object' && !Array.isArray(v) &&
  Object.keys(v).length > 0 && Object.values(v).every((x) => typeof x === 'number')) as Array<[string, Record<string, number>]>;

describe('schema offset objects', () => {
  it('are frozen and have fast properties (not V8 dictionary mode)', () => {
    expect(offsetObjects.map(([k]) => k)).toEqual(expect.arrayContaining(['TASK', 'CPU', 'G', 'PID', 'SIG', 'SLAB']));
    const slow = offsetObjects.filter(([, o]) => !hasFastProperties(o)).map(([k]) => k);
    expect(slow).toEqual([]);
    for (const [, o] of offsetObjects) expect(Object.isFrozen(o)).toBe(true);
  });
});
