/**
 * The kernel's marked accesses (Atomics on the shared words) as WebAssembly atomics.
 *
 * Node 20's optimising compiler does not inline `Atomics.load(mem, i)` and its siblings: each is a
 * call into a builtin that validates the typed array and the index (measured on this project's
 * hosts: `Atomics.load` 6-12 ns against 1-1.5 ns for a plain load, `compareExchange` 11-15 ns),
 * and a fork cycle makes ~144 of them (README, issue 15). WebAssembly's `i32.atomic.*`
 * instructions on a shared `WebAssembly.Memory` are the same sequentially consistent atomics (the
 * JavaScript and WebAssembly memory models are one), compiled inline in the wasm function, and a
 * call from optimised JavaScript into it costs less than the builtin (load 2.9 ns, compareExchange
 * 7.5 ns, add 10.1 ns, store 7.7 ns in the same micro-benchmark).
 *
 * So a machine's shared memory is, where the host allows it, the buffer of a shared
 * WebAssembly.Memory (createMemory), and `atomic` below is bound to the exports of this module
 * instantiated over it (attachMemory). The kernel's sources keep writing `Atomics.op(mem, i, ...)`:
 * the build's post-pass (src/tools/fold_offsets.ts) rewrites those calls in dist/ to
 * `atomic.op(i, ...)`; the checked build (dist-checked/) and code run from the TypeScript sources
 * keep the Atomics calls. Without a WebAssembly memory `atomic` falls back to Atomics on `mem`.
 *
 * The module is eight functions over the imported memory `env.mem`, each taking a word index
 * (the byte address is index << 2, as Int32Array indexes): load, store (returns the value stored,
 * as Atomics.store does for an int32), add, sub, and, or, exchange (return the old value), and
 * compareExchange (expected, replacement; returns the old value).
 */
/** The WebAssembly JS API as this file uses it (the project compiles without the DOM library). */
declare namespace WebAssembly {
  class Memory {
    constructor(d: { initial: number; maximum?: number; shared?: boolean });
    /** A SharedArrayBuffer for a shared memory. */
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
  }
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(m: Module, imports?: object);
    readonly exports: object;
  }
}
/** A shared WebAssembly.Memory (SharedKernel.wasm). */
export type WasmMemory = WebAssembly.Memory;

export interface AtomicOps {
  load(i: number): number;
  store(i: number, v: number): number;
  add(i: number, v: number): number;
  sub(i: number, v: number): number;
  and(i: number, v: number): number;
  or(i: number, v: number): number;
  exchange(i: number, v: number): number;
  compareExchange(i: number, expected: number, replacement: number): number;
}

/** Atomics on a view (a machine without a WebAssembly memory). */
function atomics_on(m: Int32Array): AtomicOps {
  return {
    load: (i) => Atomics.load(m, i),
    store: (i, v) => Atomics.store(m, i, v),
    add: (i, v) => Atomics.add(m, i, v),
    sub: (i, v) => Atomics.sub(m, i, v),
    and: (i, v) => Atomics.and(m, i, v),
    or: (i, v) => Atomics.or(m, i, v),
    exchange: (i, v) => Atomics.exchange(m, i, v),
    compareExchange: (i, e, v) => Atomics.compareExchange(m, i, e, v),
  };
}

/**
 * The marked accesses of the machine this thread is attached to (attachMemory binds them): what
 * the built kernel calls where its source says `Atomics.op(mem, ...)`.
 */
export const atomic: AtomicOps = atomics_on(new Int32Array(0));

/** Bind `atomic` to the machine whose words are `view` (its WebAssembly memory, if it has one). */
export function atomic_attach(view: Int32Array, memory: WasmMemory | undefined): void {
  const ops = memory ? wasm_atomic_ops(memory) : atomics_on(view);
  atomic.load = ops.load;
  atomic.store = ops.store;
  atomic.add = ops.add;
  atomic.sub = ops.sub;
  atomic.and = ops.and;
  atomic.or = ops.or;
  atomic.exchange = ops.exchange;
  atomic.compareExchange = ops.compareExchange;
}

/** WebAssembly pages are 64 KiB; a 32-bit memory has at most 65,536 of them. */
export const WASM_PAGE_BYTES = 65536;
const WASM_MAX_PAGES = 65536;

/**
 * A shared WebAssembly.Memory of at least `bytes` bytes, or null when the host refuses one (too
 * large for a 32-bit memory, no WebAssembly, or the address-space reservation failed): the caller
 * then uses a plain SharedArrayBuffer.
 */
export function wasm_shared_memory(bytes: number): WasmMemory | null {
  const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE_BYTES));
  if (pages > WASM_MAX_PAGES || typeof WebAssembly !== 'object') return null;
  try {
    return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  } catch {
    return null;
  }
}

// ---- the module ---------------------------------------------------------------------------

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

const I32 = 0x7f;
const LOCAL_GET = 0x20;
const I32_CONST = 0x41;
const I32_SHL = 0x74;
const ATOMIC = 0xfe; // the threads proposal's prefix
const MEMARG = [2, 0]; // align 2^2, offset 0
/** The byte address of word index local 0: local.get 0; i32.const 2; i32.shl. */
const ADDR = [LOCAL_GET, 0, I32_CONST, 2, I32_SHL];
const rmw = (op: number): number[] => [...ADDR, LOCAL_GET, 1, ATOMIC, op, ...MEMARG];

/** (type index, body) of each export, in AtomicOps order; types: 0 (i32)->i32, 1 (i32 i32)->i32, 2 (i32 i32 i32)->i32. */
const FUNCS: ReadonlyArray<readonly [keyof AtomicOps, number, number[]]> = [
  ['load', 0, [...ADDR, ATOMIC, 0x10, ...MEMARG]], // i32.atomic.load
  ['store', 1, [...ADDR, LOCAL_GET, 1, ATOMIC, 0x17, ...MEMARG, LOCAL_GET, 1]], // i32.atomic.store; the value
  ['add', 1, rmw(0x1e)], // i32.atomic.rmw.add
  ['sub', 1, rmw(0x25)], // i32.atomic.rmw.sub
  ['and', 1, rmw(0x2c)], // i32.atomic.rmw.and
  ['or', 1, rmw(0x33)], // i32.atomic.rmw.or
  ['exchange', 1, rmw(0x41)], // i32.atomic.rmw.xchg
  ['compareExchange', 2, [...ADDR, LOCAL_GET, 1, LOCAL_GET, 2, ATOMIC, 0x48, ...MEMARG]], // i32.atomic.rmw.cmpxchg
];

function module_bytes(pages: number): Uint8Array {
  const types = [[[I32], [I32]], [[I32, I32], [I32]], [[I32, I32, I32], [I32]]];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // \0asm, version 1
    ...section(1, [...uleb(types.length), ...types.flatMap(([p, r]) => [0x60, ...uleb(p!.length), ...p!, ...uleb(r!.length), ...r!])]),
    // import env.mem: a shared memory (limits flag 3) of exactly `pages` pages
    ...section(2, [1, ...name('env'), ...name('mem'), 0x02, 0x03, ...uleb(pages), ...uleb(pages)]),
    ...section(3, [...uleb(FUNCS.length), ...FUNCS.map((f) => f[1])]),
    ...section(7, [...uleb(FUNCS.length), ...FUNCS.flatMap(([n], i) => [...name(n), 0x00, ...uleb(i)])]),
    ...section(10, [...uleb(FUNCS.length), ...FUNCS.flatMap(([, , body]) => [...uleb(body.length + 2), 0, ...body, 0x0b])]),
  ];
  return new Uint8Array(bytes);
}

/** One instance per memory and thread (attachMemory runs at every attach of the in-process runner). */
const instances = new WeakMap<WasmMemory, AtomicOps>();

/** The atomics of a shared WebAssembly.Memory, instantiated once per thread. */
export function wasm_atomic_ops(memory: WasmMemory): AtomicOps {
  let ops = instances.get(memory);
  if (!ops) {
    const pages = memory.buffer.byteLength / WASM_PAGE_BYTES;
    const e = new WebAssembly.Instance(new WebAssembly.Module(module_bytes(pages)), { env: { mem: memory } }).exports as unknown as AtomicOps;
    ops = {
      load: e.load, store: e.store, add: e.add, sub: e.sub, and: e.and, or: e.or, exchange: e.exchange, compareExchange: e.compareExchange,
    };
    instances.set(memory, ops);
  }
  return ops;
}
