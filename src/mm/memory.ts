/**
 * Regions of the shared memory and the per-thread view of them.
 *
 * `createMemory(config)` sizes one SharedArrayBuffer from a config and lays the regions out from the
 * schema in layout.ts; `attachMemory(shared)` gives a thread (a CPU worker, or the main thread
 * when it runs the kernel in-process) the same view. Kernel code reads the live bindings `mem`,
 * `regions` and `this_cpu` exported here: one machine per thread at a time, as one kernel image
 * per CPU.
 */
import {
  CPU, FILE, G, MAX_LOCK_CLASSES, NR_CPUS, NR_KMEM_CACHES, TRACE_EV, MAX_PID_NS_LEVEL, NSCOMMON, NSPROXY, PID, PIDNS, RCUOBJ, SIG, SLAB,
  TASK, TORTURE, UPID_WORDS, USERNS, GUARD, GUARD_FRESH, GUARD_REPORT, GUARD_REPORTS, KCSAN_WATCHPOINTS, WATCHPOINT, VIOLATION,
} from './layout.js';
import { atomic_attach, wasm_shared_memory, type WasmMemory } from './wasm_atomics.js';

/** kernel/pid.c: PID_MAX_LIMIT on 64-bit. */
export const PID_MAX_LIMIT = 4 * 1024 * 1024;
/** asm/page.h: PAGE_SIZE (bytes; clone3's struct clone_args and the last-pid vector must fit in one). */
export const PAGE_SIZE = 4096;
/** kernel/pid.c: RESERVED_PIDS, skipped when the cursor wraps in the initial namespace. */
export const RESERVED_PIDS = 300;
export const PID_MAX_DEFAULT = 0x8000;
export const MEM_MAGIC = 0x50494452; // "PIDR"

export interface KernelConfig {
  /** CPU workers (may exceed the machine's cores). */
  readonly ncpus: number;
  /** pid_max of every namespace (kernel: pid_max sysctl, at most PID_MAX_LIMIT). */
  readonly pidMax: number;
  /** Deepest pid namespace level the machine can hold (0..MAX_PID_NS_LEVEL); sizes struct pid. */
  readonly maxLevel: number;
  readonly maxTasks: number;
  readonly maxPids: number;
  readonly maxPidNs: number;
  readonly maxUserNs: number;
  readonly maxNsproxy: number;
  readonly maxNsCommon: number;
  readonly maxFiles: number;
  readonly maxTortureObjs: number;
  /** Buckets of the pid hash (a power of two). */
  readonly pidHashBuckets: number;
  /** Words for user programs (scenario scripts, stress mixes). */
  readonly programWords: number;
  /** Words for the violation log (invariant failures recorded by any CPU). */
  readonly violationWords: number;
  /** Words for the controlled-mode choice record (replay). */
  readonly choiceWords: number;
  /** Run the CPUs from the checked build (dist-checked/, `--check-guards`): every field access checked against its guard. */
  readonly checkGuards?: boolean;
  /** Checked build, free-running: a CPU samples one plain access in this many for a KCSAN watchpoint (0: no sampler). */
  readonly kcsanSampleEvery?: number;
  /** How long a watchpoint stays published (microseconds). */
  readonly kcsanDelayUs?: number;
  /** Records per CPU trace ring (a power of two), 0 for no tracing (src/tracing/trace.ts). */
  readonly traceEvents: number;
}

export function defaultConfig(over: Partial<KernelConfig> = {}): KernelConfig {
  const maxTasks = over.maxTasks ?? 4096;
  const c: KernelConfig = {
    ncpus: 2,
    pidMax: PID_MAX_DEFAULT,
    maxLevel: MAX_PID_NS_LEVEL,
    maxTasks,
    maxPids: maxTasks + 64,
    maxPidNs: 256,
    maxUserNs: 64,
    maxNsproxy: 256,
    maxNsCommon: 256,
    maxFiles: 1024,
    maxTortureObjs: 1024,
    pidHashBuckets: 1 << Math.max(8, Math.ceil(Math.log2(maxTasks))),
    programWords: 1 << 16,
    violationWords: 4096,
    choiceWords: 1 << 20,
    traceEvents: 0,
    ...over,
  };
  validateConfig(c);
  return c;
}

export function validateConfig(c: KernelConfig): void {
  const bad = (m: string): never => { throw new RangeError(`invalid kernel config: ${m}`); };
  if (!Number.isInteger(c.ncpus) || c.ncpus < 1 || c.ncpus > NR_CPUS) bad(`ncpus ${c.ncpus} (1..${NR_CPUS})`);
  if (!Number.isInteger(c.pidMax) || c.pidMax < 301 + 1 || c.pidMax > PID_MAX_LIMIT) bad(`pidMax ${c.pidMax} (302..${PID_MAX_LIMIT})`);
  if (!Number.isInteger(c.maxLevel) || c.maxLevel < 0 || c.maxLevel > MAX_PID_NS_LEVEL) bad(`maxLevel ${c.maxLevel} (0..${MAX_PID_NS_LEVEL})`);
  if ((c.pidHashBuckets & (c.pidHashBuckets - 1)) !== 0) bad('pidHashBuckets must be a power of two');
  if (!Number.isInteger(c.traceEvents) || c.traceEvents < 0 || (c.traceEvents & (c.traceEvents - 1)) !== 0 || c.traceEvents > 1 << 22) bad(`traceEvents ${c.traceEvents} (0, or a power of two up to ${1 << 22})`);
  for (const k of ['maxTasks', 'maxPids', 'maxPidNs', 'maxUserNs', 'maxNsproxy', 'maxNsCommon', 'maxFiles'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) bad(`${k} ${c[k]}`);
  }
}

/** Object kinds allocated from slabs (kmem caches), in the order of their cache headers. */
export const SLAB_TASK = 0;
export const SLAB_PID = 1;
export const SLAB_PIDNS = 2;
export const SLAB_USERNS = 3;
export const SLAB_NSPROXY = 4;
export const SLAB_NSCOMMON = 5;
export const SLAB_SIGNAL = 6;
export const SLAB_FILE = 7;
export const SLAB_TORTURE = 8;
export const NR_SLABS = NR_KMEM_CACHES;
export const SLAB_NAMES = ['task_struct', 'pid', 'pid_namespace', 'user_namespace', 'nsproxy', 'ns_common', 'signal_cache', 'filp', 'rcu_torture'];

export interface Region {
  readonly name: string;
  readonly base: number;
  readonly words: number;
  readonly stride: number;
  readonly count: number;
}

export interface Regions {
  readonly global: number;
  readonly cpus: Region;
  readonly slabs: number; // kmem_cache headers, NR_SLABS * SLAB.SIZE
  readonly objects: readonly Region[]; // index by SLAB_*
  readonly pidHash: Region;
  readonly bitmaps: Region; // one per pid namespace slot
  readonly programs: Region;
  readonly violations: Region;
  readonly lockdep: Region;
  readonly choices: Region;
  readonly torture: number;
  /** Guard checker (checked build): GUARD header, watchpoints, reports, per-task-slot fresh lists. */
  readonly guard: number;
  /** Per-CPU trace rings (empty when tracing is off): CPU i's ring is base + i * stride. */
  readonly trace: Region;
  readonly totalWords: number;
  readonly pidStride: number;
  readonly bitmapWords: number;
}

const align = (n: number, a = 16): number => Math.ceil(n / a) * a;

export function computeRegions(c: KernelConfig): Regions {
  let at = 16; // word 0 is NULL; words 1..15 unused so no object sits at a small address
  const take = (name: string, stride: number, count: number): Region => {
    const base = align(at);
    const r = { name, base, words: stride * count, stride, count };
    at = base + r.words;
    return r;
  };
  const global = take('kernel', G.SIZE, 1).base;
  const cpus = take('cpu', align(CPU.SIZE), c.ncpus);
  const slabs = take('kmem_cache', SLAB.SIZE, NR_SLABS).base;
  const pidStride = PID.SIZE + (c.maxLevel + 1) * UPID_WORDS;
  const bitmapWords = Math.ceil(c.pidMax / 32);
  const objects: Region[] = [];
  objects[SLAB_TASK] = take('task_struct', TASK.SIZE, c.maxTasks);
  objects[SLAB_PID] = take('pid', pidStride, c.maxPids);
  objects[SLAB_PIDNS] = take('pid_namespace', PIDNS.SIZE, c.maxPidNs);
  objects[SLAB_USERNS] = take('user_namespace', USERNS.SIZE, c.maxUserNs);
  objects[SLAB_NSPROXY] = take('nsproxy', NSPROXY.SIZE, c.maxNsproxy);
  objects[SLAB_NSCOMMON] = take('ns_common', NSCOMMON.SIZE, c.maxNsCommon);
  objects[SLAB_SIGNAL] = take('signal_struct', SIG.SIZE, c.maxTasks);
  objects[SLAB_FILE] = take('file', FILE.SIZE, c.maxFiles);
  objects[SLAB_TORTURE] = take('rcu_torture', RCUOBJ.SIZE, c.maxTortureObjs);
  const pidHash = take('pid_hash', 1, c.pidHashBuckets);
  const bitmaps = take('pid_bitmap', bitmapWords, c.maxPidNs);
  const programs = take('programs', 1, c.programWords);
  const violations = take('violations', VIOLATION.SIZE, Math.floor(c.violationWords / VIOLATION.SIZE));
  const lockdep = take('lockdep', 1, MAX_LOCK_CLASSES * MAX_LOCK_CLASSES);
  const choices = take('choices', 1, c.choiceWords);
  const torture = take('torture', TORTURE.SIZE, 1).base;
  const guard = take('guard', 1, GUARD.SIZE + KCSAN_WATCHPOINTS * WATCHPOINT.SIZE + GUARD_REPORTS * GUARD_REPORT.SIZE + c.maxTasks * GUARD_FRESH).base;
  const trace = take('trace', c.traceEvents * TRACE_EV.SIZE, c.traceEvents > 0 ? c.ncpus : 0);
  return {
    global, cpus, slabs, objects, pidHash, bitmaps, programs, violations, lockdep, choices, torture, guard, trace,
    totalWords: align(at), pidStride, bitmapWords,
  };
}

/** What a thread needs to attach: the buffers and the config they were laid out from. */
export interface SharedKernel {
  readonly sab: SharedArrayBuffer;
  /** Float64 statistics (per-CPU per-lock-class wait times and counts). */
  readonly stats: SharedArrayBuffer;
  readonly config: KernelConfig;
  /**
   * The shared WebAssembly.Memory whose buffer `sab` is, when the host gave one (most machines):
   * the built kernel's marked accesses are WebAssembly atomics on it (src/mm/wasm_atomics.ts).
   * It travels to the CPU workers with the rest (a shared memory is cloned by reference).
   */
  readonly wasm?: WasmMemory;
}

/** Per-CPU per-class statistics in the Float64 stats buffer. */
export const STAT_ACQ = 0;
export const STAT_CONTENDED = 1;
export const STAT_WAIT_NS = 2;
export const STAT_HOLD_MAX = 3;
/** The write side of a rwlock class (its share of the three above: reads are the rest). */
export const STAT_W_ACQ = 4;
export const STAT_W_CONTENDED = 5;
export const STAT_W_WAIT_NS = 6;
export const STAT_WORDS = 8;

export function createMemory(config: KernelConfig): SharedKernel {
  validateConfig(config);
  const r = computeRegions(config);
  const bytes = r.totalWords * 4;
  // Pointers are int32 word indices, so the buffer may hold up to 2^31 - 1 words (8 GiB); V8 on
  // 64-bit hosts allocates SharedArrayBuffers that large (the scale benchmark needs a little over 2 GiB).
  if (r.totalWords > 0x7fff_ffff) throw new RangeError(`kernel config needs ${bytes} bytes of shared memory, more than int32 word pointers address`);
  const stats = new SharedArrayBuffer(config.ncpus * MAX_LOCK_CLASSES * STAT_WORDS * 8);
  // Its buffer is a SharedArrayBuffer rounded up to whole 64 KiB pages; the views of the kernel's
  // words (attachMemory, Machine.mem) end at totalWords, so the padding is never seen.
  const wasm = wasm_shared_memory(bytes);
  if (wasm && wasm.buffer instanceof SharedArrayBuffer) return { sab: wasm.buffer, stats, config, wasm };
  return { sab: new SharedArrayBuffer(bytes), stats, config };
}

// ---- the live per-thread view ---------------------------------------------------------------

export let mem: Int32Array = new Int32Array(0);
export let stats: Float64Array = new Float64Array(0);
export let regions: Regions;
export let config: KernelConfig;
export let shared: SharedKernel;
/** Address of the G record (kernel globals). */
export let kg = 0;
/** Address of the CPU record of the CPU this thread is (the kernel's smp_processor_id()). */
export let this_cpu = 0;
export let this_cpu_id = 0;

export function attachMemory(s: SharedKernel): void {
  shared = s;
  config = s.config;
  regions = computeRegions(s.config);
  mem = new Int32Array(s.sab, 0, regions.totalWords);
  stats = new Float64Array(s.stats);
  kg = regions.global;
  atomic_attach(mem, s.wasm);
}

/** Make this thread CPU `id` (a worker does this once; the in-process runner switches). */
export function set_this_cpu(id: number): void {
  this_cpu_id = id;
  this_cpu = cpu_addr(id);
}

export function cpu_addr(id: number): number {
  return regions.cpus.base + id * regions.cpus.stride;
}

export function slab_addr(kind: number): number {
  return regions.slabs + kind * SLAB.SIZE;
}

/** Object index of an address in its slab (for reports and bitmaps). */
export function obj_index(kind: number, p: number): number {
  const r = regions.objects[kind]!;
  return (p - r.base) / r.stride;
}

export function obj_addr(kind: number, idx: number): number {
  const r = regions.objects[kind]!;
  return r.base + idx * r.stride;
}

/** Milliseconds, low 31 bits, for timestamps kept in int32 fields. */
export function now_ms31(): number {
  return (Date.now() & 0x7fffffff);
}

/**
 * jiffies: this thread's copy of now_ms31 for the timestamps of the hot path (the switch stamp,
 * quiescent-state and grace-period stamps, sleep_since). The kernel's stall and hung-task
 * detectors count jiffies, which the timer tick advances (every 1-10 ms, HZ), and a stamp is one
 * load; they never read the hardware clock per event. The model has no periodic tick, so the clock
 * is read at the points that stand for it: every JIFFY_SWITCHES-th context switch
 * (jiffies_switch), the end of every wait that may have parked the thread (spin_wait, the
 * spinlock slow path, the idle loop, run-token and controlled-mode turn waits), and attach. A stamp
 * is then late by at most the kernel work this CPU did in its last JIFFY_SWITCHES switches with
 * no wait in them (microseconds to a few milliseconds, about a kernel tick; the detectors count in
 * seconds). A Date.now costs ~50 ns: one per stamp was seven a fork cycle, one per switch two.
 */
export let jiffies = 0;

/** Context switches between two clock reads of jiffies_switch (the model's tick period). */
const JIFFY_SWITCHES = 8;
let switches_to_tick = 0;

/** The tick: read the clock into `jiffies`. */
export function jiffies_tick(): number {
  switches_to_tick = JIFFY_SWITCHES;
  return (jiffies = Date.now() & 0x7fffffff);
}

/** The tick at a context switch: every JIFFY_SWITCHES-th switch since the last clock read. */
export function jiffies_switch(): void {
  if (--switches_to_tick <= 0) jiffies_tick();
}
