/**
 * start_kernel for the model: lay out the global state, the CPUs, the caches and the first tasks.
 * Runs once on the main thread, as CPU 0, before any CPU worker starts.
 */
import { CPU, G, NSCOMMON, NSPROXY, PID, PIDNS, RCUOBJ, SIG, FILE, TASK, TORTURE, USERNS } from '../mm/layout.js';
import { attachMemory, cpu_addr, kg, mem, MEM_MAGIC, regions, set_this_cpu, type SharedKernel } from '../mm/memory.js';
import { kmem_cache_init_all } from '../mm/slab.js';
import { LC_PIDMAP, LC_PID_CACHES_MUTEX, LC_USERNS_STATE_MUTEX, LC_TASKLIST, LC_UCOUNTS, lock_class_register } from '../locking/lockdep.js';
import { spin_lock_init } from '../locking/spinlock.js';
import { rwlock_init } from '../locking/qrwlock.js';
import { mutex_init } from '../locking/mutex.js';
import { init_waitqueue_head } from '../sched/wait.js';
import { rq_init } from '../sched/core.js';
import { MODE_CONTROLLED, MODE_FREE, RUN_SETUP, ctl_seed, hook_attach } from '../sched/hook.js';
import { prng_seed, PRNG_STREAM_HOTPLUG } from '../lib/prng.js';

export interface BootOptions {
  mode?: 'free' | 'controlled';
  lockdep?: boolean;
  bugs?: number;
  seed?: number;
  injectEnomemPermille?: number;
  injectDelayPermille?: number;
  /** Delays at the named race windows' hooks only (src/sched/hook.ts SITE_WINDOW_MIN), per mille. */
  windowDelayPermille?: number;
  /** Chance per mille that a copy to user memory faults and sleeps (src/mm/uaccess.ts); default 0. */
  uaccessFaultPermille?: number;
  /** Fork balancing (select_task_rq with WF_FORK in wake_up_new_task); default off: a new task starts on its parent's CPU. */
  forkBalance?: boolean;
  hungTimeoutMs?: number;
  /** CONFIG_SMP=n: on a one-CPU machine, lock words and scheduler words use plain accesses. */
  up?: boolean;
}

/** Free-list link offset of every cache, in SLAB_* order (memory.ts). */
const FREE_NEXT = [TASK.free_next, PID.free_next, PIDNS.free_next, USERNS.free_next, NSPROXY.free_next, NSCOMMON.free_next, SIG.free_next, FILE.free_next, RCUOBJ.free_next];
/** The embedded rcu_head of each cache's objects, -1 for caches whose objects have none. */
const RCU_HEAD_AT = [TASK.rcu, PID.rcu, PIDNS.rcu, -1, -1, -1, -1, -1, RCUOBJ.rcu];

/** Kernel subsystems that add boot-time state (init_task, init_pid_ns ...) register here. */
const late_initcalls: Array<(opts: BootOptions) => void> = [];
export function register_boot_init(fn: (opts: BootOptions) => void): void {
  if (!late_initcalls.includes(fn)) late_initcalls.push(fn);
}

export function boot_kernel(s: SharedKernel, opts: BootOptions = {}): void {
  attachMemory(s);
  set_this_cpu(0);
  const c = s.config;
  mem[kg + G.magic] = MEM_MAGIC;
  mem[kg + G.ncpus] = c.ncpus;
  mem[kg + G.run_state] = RUN_SETUP;
  mem[kg + G.mode] = opts.mode === 'controlled' ? MODE_CONTROLLED : MODE_FREE;
  mem[kg + G.lockdep_on] = opts.lockdep ? 1 : 0;
  mem[kg + G.smp_off] = opts.up && c.ncpus === 1 ? 1 : 0;
  mem[kg + G.bug_switches] = opts.bugs ?? 0;
  mem[kg + G.inject_enomem_permille] = opts.injectEnomemPermille ?? 0;
  mem[kg + G.inject_delay_permille] = opts.injectDelayPermille ?? 0;
  mem[kg + G.window_delay_permille] = opts.windowDelayPermille ?? 0;
  mem[kg + G.uaccess_fault_permille] = opts.uaccessFaultPermille ?? 0;
  mem[kg + G.sched_fork_balance] = opts.forkBalance ? 1 : 0;
  mem[kg + G.hung_timeout_ms] = opts.hungTimeoutMs ?? 10_000;
  mem[kg + G.pid_max] = c.pidMax;
  mem[kg + G.violation_log] = regions.violations.base;
  mem[kg + G.lockdep_graph] = regions.lockdep.base;
  mem[kg + G.ctl_max_decisions] = 0x7fffffff;
  mem[kg + G.trace_events] = c.traceEvents;
  if (c.traceEvents > 0) mem[kg + G.trace_epoch] = Math.floor((performance.timeOrigin + performance.now()) / 1000);
  ctl_seed(opts.seed ?? 1);
  mem[kg + G.hotplug_rng] = prng_seed(opts.seed ?? 1, PRNG_STREAM_HOTPLUG);
  rwlock_init(kg + G.tasklist_lock, LC_TASKLIST);
  spin_lock_init(kg + G.pidmap_lock, LC_PIDMAP);
  mutex_init(kg + G.pid_caches_mutex, LC_PID_CACHES_MUTEX);
  mutex_init(kg + G.userns_state_mutex, LC_USERNS_STATE_MUTEX);
  spin_lock_init(kg + G.ucounts_lock, LC_UCOUNTS);
  init_waitqueue_head(kg + G.rcu_gp_wq);
  init_waitqueue_head(kg + G.srcu_wq);
  for (let i = 0; i < c.ncpus; i++) {
    const p = cpu_addr(i);
    mem[p + CPU.id] = i;
    mem[p + CPU.online] = 1;
    mem[p + CPU.trace_ring] = c.traceEvents > 0 ? regions.trace.base + i * regions.trace.stride : 0;
    rq_init(p);
  }
  hook_attach(true);
  kmem_cache_init_all(FREE_NEXT, RCU_HEAD_AT);
  // Torture state (locktorture / rcutorture).
  const tt = regions.torture;
  spin_lock_init(tt + TORTURE.spin, lock_class_register('torture_spinlock'));
  rwlock_init(tt + TORTURE.rw, lock_class_register('torture_rwlock'));
  mutex_init(tt + TORTURE.mutex, lock_class_register('torture_mutex'));
  init_waitqueue_head(tt + TORTURE.wq);
  for (const f of late_initcalls) f(opts);
}
