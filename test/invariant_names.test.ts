/**
 * Every invariant code a report can carry has a name: the stress checker's (src/stress/checks.ts)
 * and the kernel's own (src/detect/report.ts KERNEL_INVARIANT_NAMES), whatever modules a run
 * loaded. A code without one printed as "invariant 0x51" (the first line of a bug-sweep finding,
 * child_reaper_not_moved, session 4).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { invariant_name } from '../src/detect/report.js';
import { tsFiles } from './source_files.js';

describe('invariant names', () => {
  it('every INV_ constant of src/ is named in a report', () => {
    const codes: Array<[string, number]> = [];
    for (const f of tsFiles('src')) {
      for (const m of readFileSync(f, 'utf8').matchAll(/export const (INV_[A-Z0-9_]+) = (0x[0-9a-fA-F]+|\d+)\b/g)) codes.push([`${f}: ${m[1]}`, Number(m[2])]);
    }
    expect(codes.length).toBeGreaterThan(20);
    const unnamed = codes.filter(([, c]) => /^invariant 0x/.test(invariant_name(c))).map(([n]) => n);
    expect(unnamed).toEqual([]);
  });
});
