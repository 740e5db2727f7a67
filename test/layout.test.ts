/**
 * The schema checks every record it declares: each *_SPEC is listed (so SharedArrayBuffer.md
 * documents it), its exported offsets are the ones the layout computes, fields do not overlap and
 * stay inside the stride, aligned fields are aligned, an embedded record has that record's size,
 * and the regions of the default machine do not overlap.
 */
import { describe, expect, it } from 'vitest';
import * as layout from '../src/mm/layout.js';
import { ALL_STRUCTS, layoutOf, type StructSpec } from '../src/mm/layout.js';
import { guard_of } from '../src/mm/guard.js';
import { computeRegions, defaultConfig, NR_SLABS, type Region } from '../src/mm/memory.js';

const specs = Object.entries(layout).filter(([k]) => k.endsWith('_SPEC')) as [string, StructSpec][];
const byName = new Map(ALL_STRUCTS.map((s) => [s.name, s]));
/** Exported offset tables: frozen objects with a numeric SIZE (TASK, G, RWLOCK ...). */
const offsetTables = Object.entries(layout).filter(
  ([, v]) => typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { SIZE?: unknown }).SIZE === 'number',
) as [string, Record<string, number>][];

describe('layout schema', () => {
  it('lists every exported spec in ALL_STRUCTS, once, under a unique name', () => {
    expect(specs.length).toBeGreaterThan(20);
    for (const [k, s] of specs) expect(ALL_STRUCTS, k).toContain(s);
    expect(new Set(ALL_STRUCTS).size).toBe(ALL_STRUCTS.length);
    expect(byName.size).toBe(ALL_STRUCTS.length);
  });

  it('exports the offsets of every record, as layoutOf computes them', () => {
    for (const s of ALL_STRUCTS) {
      const l = layoutOf(s.fields);
      const want: Record<string, number> = { SIZE: l.size };
      for (const f of l.fields) want[f.field.name] = f.offset;
      const key = (o: Record<string, number>): string => JSON.stringify(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
      const match = offsetTables.filter(([, o]) => key(o) === key(want));
      expect(match.length, `offset table of ${s.name}`).toBeGreaterThan(0);
    }
  });

  it('lays out every record without overlap, inside its stride, aligned, with unique field names', () => {
    for (const s of ALL_STRUCTS) {
      const l = layoutOf(s.fields);
      expect(new Set(s.fields.map((f) => f.name)).size, s.name).toBe(s.fields.length);
      let end = 0;
      for (const { field, offset, words } of l.fields) {
        expect(words, `${s.name}.${field.name}`).toBeGreaterThan(0);
        expect(offset, `${s.name}.${field.name} overlaps the field before it`).toBeGreaterThanOrEqual(end);
        if (field.align) expect(offset % field.align, `${s.name}.${field.name} alignment`).toBe(0);
        expect(guard_of(field.guard).text.length, `${s.name}.${field.name} guard`).toBeGreaterThan(0);
        end = offset + words;
      }
      expect(end, `${s.name} overflows its stride`).toBeLessThanOrEqual(l.size);
      if (s.fields.some((f) => f.align)) expect(l.size % 16, `${s.name} whole cache lines`).toBe(0);
    }
  });

  it('gives every embedded record the size of the record it names', () => {
    let embedded = 0;
    for (const s of ALL_STRUCTS) {
      for (const f of s.fields) {
        if (!f.of) continue;
        embedded++;
        const inner = byName.get(f.of);
        expect(inner, `${s.name}.${f.name} embeds unknown ${f.of}`).toBeDefined();
        expect(f.words, `${s.name}.${f.name}`).toBe((f.count ?? 1) * layoutOf(inner!.fields).size);
      }
    }
    expect(embedded).toBeGreaterThan(30);
  });

  it('keeps the derived constants equal to the fields they name', () => {
    expect(layout.SPINLOCK_WORDS).toBe(layout.SPINLOCK.SIZE);
    expect(layout.RWLOCK_WORDS).toBe(layout.RWLOCK.SIZE);
    expect(layout.MUTEX_WORDS).toBe(layout.MUTEX.SIZE);
    expect(layout.MX_WAIT_LOCK + layout.SPINLOCK_WORDS).toBe(layout.MX_WQ_FIRST);
    expect(layout.WAITQ_WORDS).toBe(layout.WAITQ.SIZE);
    expect(layout.HELD_WORDS).toBe(layout.HELD_LOCK.SIZE);
    expect(layout.SRCU_UNLOCK_COUNT0 - layout.SRCU_LOCK_COUNT0).toBeGreaterThanOrEqual(2); // two indexes each
    expect(layout.QR_BIAS).toBe(1 << layout.QR_SHIFT);
    expect(layout.QW_WMASK).toBe(layout.QW_LOCKED | layout.QW_WAITING);
  });

  it('keeps every kmem_cache descriptor off the cache lines its list lock section writes', () => {
    // Every allocation and free on every CPU reads the write-once descriptor (stride, cpu_limit,
    // next_free_off); a refill or flush under the list lock writes the lock word, the free list and
    // the counts. As struct kmem_cache and struct kmem_cache_node in the kernel, the two must not
    // share a 64-byte line, in one cache's record or across neighbouring caches' records.
    const r = computeRegions(defaultConfig());
    const S = layout.SLAB;
    const line = (w: number): number => Math.floor(w / 16);
    const descriptor = ['base', 'stride', 'capacity', 'cpu_limit', 'next_free_off'] as const;
    const written = new Set<number>();
    const read: Array<[number, string]> = [];
    for (let k = 0; k < NR_SLABS; k++) {
      const s = r.slabs + k * S.SIZE;
      for (let w = S.lock; w < S.lock + layout.SPINLOCK_WORDS; w++) written.add(line(s + w));
      for (const f of ['free', 'in_use', 'high_water'] as const) written.add(line(s + S[f]));
      for (const f of descriptor) read.push([line(s + S[f]), `cache ${k} ${f}`]);
    }
    for (const [l, what] of read) expect(written.has(l), `${what} shares line ${l} with a list-locked word`).toBe(false);
  });

  it('lays out the default machine with regions that do not overlap and fit their records', () => {
    const r = computeRegions(defaultConfig());
    const regions: Region[] = [r.cpus, ...r.objects, r.pidHash, r.bitmaps, r.programs, r.violations, r.lockdep, r.choices];
    type Span = [string, number, number];
    const spans: Span[] = [
      ['kernel', r.global, r.global + layout.G.SIZE] as Span,
      ['kmem_cache', r.slabs, r.slabs + layout.SLAB.SIZE] as Span,
      ['torture', r.torture, r.torture + layout.TORTURE.SIZE] as Span,
      ...regions.map((x): Span => [x.name, x.base, x.base + x.words]),
    ].sort((a, b) => a[1] - b[1]);
    expect(spans[0]![1]).toBeGreaterThan(0); // word 0 is NULL
    for (let i = 1; i < spans.length; i++) expect(spans[i]![1], `${spans[i]![0]} overlaps ${spans[i - 1]![0]}`).toBeGreaterThanOrEqual(spans[i - 1]![2]);
    expect(spans.at(-1)![2]).toBeLessThanOrEqual(r.totalWords);
    expect(r.cpus.stride).toBeGreaterThanOrEqual(layout.CPU.SIZE);
    expect(r.violations.stride).toBe(layout.VIOLATION.SIZE);
    expect(r.pidStride).toBe(layout.PID.SIZE + (defaultConfig().maxLevel + 1) * layout.UPID.SIZE);
  });
});
