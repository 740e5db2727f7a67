/**
 * Per-thread copies of the write-once words of G that every lock operation reads: G.ncpus (is this
 * a one-CPU machine, where lock words need no atomic read-modify-write: see spinlock.ts) and
 * G.lockdep_on (debug_locks in the kernel: is the validator on?).
 *
 * Both are written once at boot, but they sit in cache lines of G that every CPU writes all the
 * time (G.ncpus beside tasklist_lock, G.progress and G.run_state; G.lockdep_on beside G.seq_tasks
 * and G.violations): reading them from shared memory on each lock operation would miss in the
 * cache whenever another CPU just wrote its neighbour. The copies are keyed on the thread's memory
 * view: attachMemory makes a new view on every attach, so a thread that switches machines (tests,
 * the in-process runner) reads the new machine's words on its first lock operation there.
 */
import { G } from '../mm/layout.js';
import { kg } from '../mm/memory.js';

let view: Int32Array | null = null;
let one_cpu = false;
let lockdep = false;

function refresh(m: Int32Array): void {
  view = m;
  // The uniprocessor paths are a build option (CONFIG_SMP=n), off by default: a default machine
  // keeps real atomic read-modify-writes on every lock word even with one CPU.
  one_cpu = m[kg + G.ncpus] === 1 && m[kg + G.smp_off] === 1;
  lockdep = m[kg + G.lockdep_on] !== 0;
}

/**
 * A uniprocessor boot (CONFIG_SMP=n, BootOptions.up) on one CPU: one thread runs the kernel, so lock
 * words take plain accesses. (Named up_boot, not cpu_up: in Linux cpu_up() brings a CPU online, the
 * hotplug operation of src/sched/hotplug.ts.)
 */
export function up_boot(m: Int32Array): boolean {
  if (m !== view) refresh(m);
  return one_cpu;
}

/** Lock-order validation is on for this machine (G.lockdep_on). */
export function lockdep_enabled(m: Int32Array): boolean {
  if (m !== view) refresh(m);
  return lockdep;
}
