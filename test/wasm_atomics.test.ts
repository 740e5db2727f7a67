/**
 * src/mm/wasm_atomics.ts and the build's routing of marked accesses to it (route_atomics in
 * src/tools/fold_offsets.ts): the WebAssembly operations give what Atomics gives on the same
 * words, the machine's memory is a shared WebAssembly.Memory whose padding no view shows, the
 * routing rewrites exactly the calls on the kernel's `mem` (and a `const m = mem` of an enclosing
 * function) on the same lines, and the built dist/ kernel makes no Atomics call on `mem` any more.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { atomic, atomic_attach, wasm_atomic_ops, wasm_shared_memory, WASM_PAGE_BYTES, type AtomicOps } from '../src/mm/wasm_atomics.js';
import { attachMemory, computeRegions, createMemory, defaultConfig, mem } from '../src/mm/memory.js';
import { Machine } from '../src/machine.js';
import { KERNEL_DIRS, route_atomics } from '../src/tools/fold_offsets.js';
import { js_files } from '../src/tools/build_checked.js';

/** The same sequence of operations through `ops` and through Atomics on `m`: every result. */
function script(ops: AtomicOps, m: Int32Array, at: readonly number[]): number[] {
  const [a, b, c, d] = at as [number, number, number, number];
  const out: number[] = [];
  out.push(ops.store(a, 7), ops.load(a));
  out.push(ops.add(a, 5), ops.sub(a, 20), ops.load(a)); // 7 -> 12 -> -8
  out.push(ops.and(b, 0x0f), ops.or(b, 0x300), ops.exchange(b, -1), ops.load(b));
  out.push(ops.compareExchange(c, 0, 42), ops.compareExchange(c, 0, 43), ops.load(c));
  out.push(ops.add(d, 0x7fffffff), ops.add(d, 1), ops.load(d)); // wraps to -2^31
  out.push(...at.map((i) => m[i]!));
  return out;
}
const words = (from: number): number[] => [from, from + 1, from + 2, from + 3];

describe('WebAssembly atomics (the built kernel\'s marked accesses)', () => {
  it('give what Atomics gives, on the same words', () => {
    const wm = wasm_shared_memory(3 * WASM_PAGE_BYTES - 5)!;
    expect(wm).not.toBeNull();
    expect(wm.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(wm.buffer.byteLength).toBe(3 * WASM_PAGE_BYTES);
    const w = new Int32Array(wm.buffer);
    const inW = words(100);
    const inPlain = words(200);
    w.fill(0x1ff, inW[1]!, inW[2]!);
    const viaWasm = script(wasm_atomic_ops(wm), w, inW);
    const plain = new Int32Array(new SharedArrayBuffer(4096));
    plain.fill(0x1ff, inPlain[1]!, inPlain[2]!);
    const viaAtomics = script({
      load: (i) => Atomics.load(plain, i), store: (i, v) => Atomics.store(plain, i, v), add: (i, v) => Atomics.add(plain, i, v),
      sub: (i, v) => Atomics.sub(plain, i, v), and: (i, v) => Atomics.and(plain, i, v), or: (i, v) => Atomics.or(plain, i, v),
      exchange: (i, v) => Atomics.exchange(plain, i, v), compareExchange: (i, e, v) => Atomics.compareExchange(plain, i, e, v),
    }, plain, inPlain);
    expect(viaWasm).toEqual(viaAtomics);
    expect(viaWasm.slice(-4)).toEqual([-8, -1, 42, -0x80000000]);
    expect(wasm_atomic_ops(wm)).toBe(wasm_atomic_ops(wm)); // one instance per memory and thread
    expect(wasm_shared_memory(2 ** 32 + 1)).toBeNull(); // past a 32-bit memory: a plain SharedArrayBuffer then
  });

  it('a machine\'s memory is a shared WebAssembly.Memory; the views end at the kernel\'s words', () => {
    const c = defaultConfig({ ncpus: 1, maxTasks: 64 });
    const s = createMemory(c);
    expect(s.wasm).toBeDefined();
    expect(s.sab).toBe(s.wasm!.buffer);
    const total = computeRegions(c).totalWords;
    const last = total - 1;
    expect(s.sab.byteLength).toBeGreaterThanOrEqual(total * 4);
    attachMemory(s);
    expect(mem.length).toBe(total);
    atomic.store(last, 1234); // `atomic` is bound to this machine's memory
    expect(mem.at(-1)).toBe(1234);
    const m = new Machine({ ncpus: 1, maxTasks: 64 });
    expect(m.mem.length).toBe(m.words);
    m.attach();
    expect(atomic.load(last)).toBe(0); // re-bound to the other machine
    attachMemory(s);
    expect(atomic.load(last)).toBe(1234);
    atomic_attach(new Int32Array(new SharedArrayBuffer(64)), undefined); // no WebAssembly memory: Atomics on the view
    expect(atomic.add(3, 2)).toBe(0);
    expect(atomic.load(3)).toBe(2);
  });
});

/** The sample modules' import keyword, kept out of this file's own text (test/import_graph.test.ts reads it). */
const IMPORT = ['im', 'port'].join('');

describe('route_atomics (the build)', () => {
  const isMemory = (spec: string): boolean => spec === '../mm/memory.js';
  it('rewrites the Atomics calls on the kernel\'s mem and a const alias of it, on the same lines', () => {
    const src = [
      `${IMPORT} { mem } from '../mm/memory.js';`,
      'export function f(p, other) {',
      '  const m = mem;',
      '  Atomics.store(mem, p + 1, 2);',
      '  const v = Atomics.compareExchange(m, p, 0, 1) + Atomics.load(other, p);',
      '  const g = (m) => Atomics.add(m, p, 1);', // a parameter named m: any array
      '  Atomics.notify(mem, p, 1);', // not a marked access: stays
      '  return v + g(other) + Atomics.exchange(mem, p, 0);',
      '}',
    ].join('\n');
    const out = route_atomics(src, isMemory, '../mm/wasm_atomics.js')!;
    expect(out.split('\n')).toHaveLength(9);
    expect(out.split('\n')[0]).toBe(`${IMPORT} { atomic as __atomic } from '../mm/wasm_atomics.js'; ${IMPORT} { mem } from '../mm/memory.js';`);
    expect(out).toContain('__atomic.store(p + 1, 2);');
    expect(out).toContain('__atomic.compareExchange(p, 0, 1) + Atomics.load(other, p);');
    expect(out).toContain('(m) => Atomics.add(m, p, 1);');
    expect(out).toContain('Atomics.notify(mem, p, 1);');
    expect(out).toContain('__atomic.exchange(p, 0);');
    expect(route_atomics(out, isMemory, '../mm/wasm_atomics.js')).toBeNull(); // idempotent
    expect(route_atomics(`${IMPORT} { mem } from './elsewhere.js';\nAtomics.load(mem, 1);`, isMemory, 'x')).toBeNull();
  });

  it('the built dist/ kernel calls no Atomics read-modify-write, load or store on mem (dist-checked/ keeps them)', () => {
    const root = join(__dirname, '..');
    const on = /Atomics\.(load|store|add|sub|and|or|exchange|compareExchange)\(mem,/;
    for (const tree of ['dist', 'dist-checked']) {
      let routed = 0;
      let left = 0;
      for (const d of KERNEL_DIRS) {
        let files: string[] = [];
        try { files = js_files(join(root, tree, d)); } catch { continue; }
        for (const f of files) {
          const t = readFileSync(f, 'utf8');
          routed += (t.match(/__atomic\.\w+\(/g) ?? []).length;
          left += t.split('\n').filter((l) => on.test(l)).length;
        }
      }
      if (tree === 'dist') {
        expect(left).toBe(0);
        expect(routed).toBeGreaterThan(300);
      } else {
        expect(routed).toBe(0);
        expect(left).toBeGreaterThan(300);
      }
    }
  });
});
