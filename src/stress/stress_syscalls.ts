/**
 * System calls of the stress tool and of the detection tests (numbers 120..159), run by the CPUs.
 *
 * SYS_STRESS_OP is the whole stress program of a task: each call accounts the result of the
 * previous operation, picks the next one from the mix with the task's own RNG (TASK.stress_rng, seeded
 * from the run seed and the task id, so a controlled run is reproducible), writes it into the
 * task's ucall and executes it as a sub-call. If the operation sleeps, the task resumes in the
 * sub-call itself (the ucall now names it), exactly as if the program had issued it; when it
 * completes the program loops back to SYS_STRESS_OP. When the operation budget is spent or the
 * run is asked to stop, the task winds down (a kernel thread runs off its program, a process
 * exits).
 *
 * The test calls take two test locks in a given order (lock-order and deadlock tests), sleep for
 * good (the watchdog test), or break a rule on purpose (sleeping in atomic context, returning to
 * user mode with a lock held).
 */
import { CPU, G, MUTEX_WORDS, SPINLOCK_WORDS, STRESS_BUSTED, STRESS_COUNTERS, STRESS_MIX, STRESS_OPS_DONE, STRESS_OPS_LEFT, STRESS_PROG, STRESS_SEED, STRESS_STOP, STRESS_TABLE, STRESS_TASKS, TASK, TORTURE } from '../mm/layout.js';
import { kg, mem, regions, this_cpu } from '../mm/memory.js';
import { lock_class_register } from '../locking/lockdep.js';
import { mutex_init, mutex_lock, mutex_unlock } from '../locking/mutex.js';
import { spin_lock, spin_lock_busted, spin_lock_init, spin_unlock, spin_unlock_busted } from '../locking/spinlock.js';
import { record_violation, V_MUTUAL_EXCLUSION } from '../locking/violations.js';
import { read_lock, read_unlock, write_lock, write_unlock } from '../locking/qrwlock.js';
import { current, SLEEP, TASK_UNINTERRUPTIBLE, WCHAN_WAITQ, set_current_state } from '../sched/core.js';
import { sched_hook } from '../sched/hook.js';
import { user_page_fault } from '../mm/uaccess.js';
import { rcu_read_lock, rcu_read_unlock } from '../rcu/rcu.js';
import { register_syscall, set_ucall, syscall_fn } from '../kernel/entry.js';
import { register_boot_init } from '../kernel/boot.js';
import { SYS_EXIT, SYS_EXIT_GROUP, SYS_FORK, SYS_KILL, SYS_PTRACE, SYS_REBOOT, SYS_WAIT4 } from '../kernel/unistd.js';
import { PTRACE_CONT } from '../kernel/ptrace.js';
import { SIGCONT } from '../kernel/sched_task.js';

/** __WALL (include/uapi/linux/wait.h). */
import { __WALL, PF_KTHREAD, WUNTRACED } from '../kernel/sched_task.js';
import {
  SYS_SYNCHRONIZE_RCU, SYS_SYNCHRONIZE_SRCU, SYS_TORTURE_RCU_READ, SYS_TORTURE_RCU_WRITE,
  SYS_TORTURE_READ, SYS_TORTURE_WRITE,
} from '../kernel/torture.js';
import { OPS, RES_BUCKETS, RES_SKIPPED, RES_TABLE_WORDS, STRESS_BUST_CRASH, STRESS_BUST_RCU, STRESS_BUST_SPIN } from './ops.js';
import { detach_first_tracee, has_non_service_child, hidden_group_stop_of_tracee, is_daemon, is_tracee_of, kernel_op, kernel_op_done, kernel_wind_down, stop_daemon_child, sweep_daemons } from './kernel_ops.js';
import { prng_next, prng_seed } from '../lib/prng.js';
import { ECHILD, ENOSYS } from '../kernel/errno.js';

import { cgroup_threadgroup_rwsem } from '../kernel/cgroup_pids.js';
import { percpu_down_read, percpu_down_write, percpu_up_read, percpu_up_write } from '../locking/percpu_rwsem.js';

export const SYS_STRESS_OP = 120;
/** (first, second, 0): take test lock `first`, hit a race window, take `second`, release both. */
export const SYS_TEST_LOCK2 = 121;
/** Sleep uninterruptibly for good on a wait queue nobody wakes (a real hang for the watchdog). */
export const SYS_TEST_HANG = 122;
/** Take test lock `a` and return to user mode still holding it (a rule broken on purpose). */
export const SYS_TEST_HOLD = 123;
/** Release test lock `a` taken by SYS_TEST_HOLD. */
export const SYS_TEST_RELEASE = 124;
/** spin_lock(test spin a), then mutex_lock(test mutex a): sleeping function called from invalid context. */
export const SYS_TEST_SLEEP_IN_ATOMIC = 125;
/** The stress reaper's loop: reap any child (wait4(-1, __WALL)) until ECHILD, then go on to exit. */
export const SYS_STRESS_REAP = 128;
/** Throws inside the kernel (a model bug): the worker-crash path of the run and its report. */
export const SYS_TEST_CRASH = 129;
/**
 * Corrupt the caller's children list into a cycle (test-only): its first child's sibling.next
 * points back at the child, what a second list_add of an entry already on the list leaves behind.
 * A wait4 then walks the list in do_wait_thread for ever, never reaching a scheduling hook: a CPU
 * looping in the kernel (a soft lockup).
 */
export const SYS_TEST_LIST_CYCLE = 130;
/**
 * A copy to user memory from atomic context (test-only, a planted bug): put_user's fault point
 * (user_page_fault) under a spinlock (arg 0) or inside an RCU read-side section (arg 1). Returns 1
 * if the fault was taken (it must not be), else 0.
 */
export const SYS_TEST_PUT_USER_ATOMIC = 131;
/** The stress mix's spinlock and mutex sections (own counters, see CNT_*). */
export const SYS_STRESS_SPIN = 126;
export const SYS_STRESS_MUTEX = 127;

/** Test locks for SYS_TEST_LOCK2 / SYS_TEST_HOLD. */
export const TL_MUTEX_A = 0;
export const TL_MUTEX_B = 1;
export const TL_SPIN_A = 2;
export const TL_SPIN_B = 3;
export const TL_RW_READ = 4; // the torture rwlock, read
export const TL_RW_WRITE = 5; // the torture rwlock, write
export const TL_RW_READ_IRQ = 6; // the torture rwlock, read from (simulated) interrupt context
export const TL_PRW_READ = 7; // cgroup_threadgroup_rwsem (the percpu_rw_semaphore forks and exits read), read
export const TL_PRW_WRITE = 8; // cgroup_threadgroup_rwsem, write
export const TL_NAMES = ['test_mutex_a', 'test_mutex_b', 'test_spin_a', 'test_spin_b', 'torture_rwlock(read)', 'torture_rwlock(write)', 'torture_rwlock(read, irq)', 'cgroup_threadgroup_rwsem(read)', 'cgroup_threadgroup_rwsem(write)'];

// Lock classes are registered at module load so every thread numbers them alike.
const LC_TEST_MUTEX_A = lock_class_register('test_mutex_a');
const LC_TEST_MUTEX_B = lock_class_register('test_mutex_b');
const LC_TEST_SPIN_A = lock_class_register('test_spin_a');
const LC_TEST_SPIN_B = lock_class_register('test_spin_b');

register_boot_init(() => {
  mutex_init(kg + G.test_mutex, LC_TEST_MUTEX_A);
  mutex_init(kg + G.test_mutex + MUTEX_WORDS, LC_TEST_MUTEX_B);
  spin_lock_init(kg + G.test_spin, LC_TEST_SPIN_A);
  spin_lock_init(kg + G.test_spin + SPINLOCK_WORDS, LC_TEST_SPIN_B);
});

export function test_lock_addr(which: number): number {
  switch (which) {
    case TL_MUTEX_A: return kg + G.test_mutex;
    case TL_MUTEX_B: return kg + G.test_mutex + MUTEX_WORDS;
    case TL_SPIN_A: return kg + G.test_spin;
    case TL_SPIN_B: return kg + G.test_spin + SPINLOCK_WORDS;
    case TL_PRW_READ: case TL_PRW_WRITE: return cgroup_threadgroup_rwsem();
    default: return regions.torture + TORTURE.rw;
  }
}

/** Acquire a test lock: 0, or SLEEP (mutexes; call again on resume). */
function tl_lock(which: number, site: number): number {
  const l = test_lock_addr(which);
  switch (which) {
    case TL_MUTEX_A: case TL_MUTEX_B: return mutex_lock(l, site);
    case TL_SPIN_A: case TL_SPIN_B: spin_lock(l, site); return 0;
    case TL_RW_READ: read_lock(l, site); return 0;
    case TL_RW_WRITE: write_lock(l, site); return 0;
    case TL_PRW_READ: return percpu_down_read(l, site);
    case TL_PRW_WRITE: return percpu_down_write(l, site);
    case TL_RW_READ_IRQ: {
      mem[this_cpu + CPU.in_irq]!++;
      read_lock(l, site);
      mem[this_cpu + CPU.in_irq]!--;
      return 0;
    }
    default: throw new RangeError(`test lock ${which}`);
  }
}

function tl_unlock(which: number): void {
  const l = test_lock_addr(which);
  switch (which) {
    case TL_MUTEX_A: case TL_MUTEX_B: mutex_unlock(l); return;
    case TL_SPIN_A: case TL_SPIN_B: spin_unlock(l); return;
    case TL_RW_READ: case TL_RW_READ_IRQ: read_unlock(l); return;
    case TL_RW_WRITE: write_unlock(l); return;
    case TL_PRW_READ: percpu_up_read(l); return;
    case TL_PRW_WRITE: percpu_up_write(l); return;
  }
}

/** Two locks in the given order, with a race window between them (restartable: mutexes sleep). */
function sys_test_lock2(first: number, second: number): number {
  const t = current;
  if (mem[t + TASK.restart_phase] === 0) {
    if (tl_lock(first, 130) === SLEEP) return SLEEP;
    mem[t + TASK.restart_phase] = 1;
  }
  if (mem[t + TASK.restart_phase] === 1) {
    sched_hook(131); // the window in which another task takes the locks the other way round
    if (tl_lock(second, 132) === SLEEP) return SLEEP;
    mem[t + TASK.restart_phase] = 2;
  }
  tl_unlock(second);
  tl_unlock(first);
  mem[t + TASK.restart_phase] = 0;
  return 0;
}

function sys_test_hang(): number {
  // An uninterruptible sleep nobody ends: on no wait queue, so no wake-up can find it.
  set_current_state(TASK_UNINTERRUPTIBLE, WCHAN_WAITQ, kg + G.test_spin);
  return SLEEP;
}

function sys_test_hold(which: number): number {
  const t = current;
  if (tl_lock(which, 133) === SLEEP) return SLEEP;
  mem[t + TASK.restart_phase] = 0;
  return 0;
}

function sys_test_release(which: number): number {
  tl_unlock(which);
  return 0;
}

function sys_test_put_user_atomic(rcu: number): number {
  if (rcu) rcu_read_lock();
  else spin_lock(test_lock_addr(TL_SPIN_A), 136);
  const faulted = user_page_fault() ? 1 : 0;
  if (rcu) rcu_read_unlock();
  else spin_unlock(test_lock_addr(TL_SPIN_A));
  return faulted;
}

function sys_test_sleep_in_atomic(): number {
  spin_lock(test_lock_addr(TL_SPIN_A), 134);
  // mutex_lock may sleep: might_sleep() reports it even though the mutex is free.
  const r = mutex_lock(test_lock_addr(TL_MUTEX_A), 135);
  if (r === 0) mutex_unlock(test_lock_addr(TL_MUTEX_A));
  spin_unlock(test_lock_addr(TL_SPIN_A));
  return 0;
}

// ---- the stress mix ---------------------------------------------------------------------------

/** Counters of the stress lock sections, after the result table (program region). */
export const CNT_SPIN_COUNTER = STRESS_COUNTERS.spin_counter;
export const CNT_SPIN_ACQ = STRESS_COUNTERS.spin_acq;
export const CNT_SPIN_INSIDE = STRESS_COUNTERS.spin_inside;
export const CNT_MUTEX_COUNTER = STRESS_COUNTERS.mutex_counter;
export const CNT_MUTEX_ACQ = STRESS_COUNTERS.mutex_acq;
export const CNT_MUTEX_INSIDE = STRESS_COUNTERS.mutex_inside;
export const CNT_WORDS = STRESS_COUNTERS.SIZE;
const cnt = (): number => mem[kg + G.stress + STRESS_TABLE]! + RES_TABLE_WORDS;

/**
 * locktorture's spinlock section with its own counters: a plain read-modify-write of a counter
 * with a race window inside, plus an "inside" count that catches two CPUs in the section at once
 * the moment it happens (V_MUTUAL_EXCLUSION). With STRESS_BUST_SPIN it uses lock_busted.
 */
function sys_stress_spin(): number {
  const lock = regions.torture + TORTURE.spin;
  const busted = (mem[kg + G.stress + STRESS_BUSTED]! & STRESS_BUST_SPIN) !== 0;
  if (busted) spin_lock_busted(lock, 140);
  else spin_lock(lock, 140);
  const k = cnt();
  if (Atomics.add(mem, k + CNT_SPIN_INSIDE, 1) !== 0) record_violation(V_MUTUAL_EXCLUSION, lock, 1, Atomics.load(mem, k + CNT_SPIN_INSIDE));
  const v = mem[k + CNT_SPIN_COUNTER]!;
  sched_hook(141); // the window a missing lock exposes
  mem[k + CNT_SPIN_COUNTER] = v + 1;
  Atomics.add(mem, k + CNT_SPIN_ACQ, 1);
  Atomics.sub(mem, k + CNT_SPIN_INSIDE, 1);
  if (busted) spin_unlock_busted(lock);
  else spin_unlock(lock);
  return 0;
}

/** The mutex section, with its own counters (sleeps when contended; restarts find the hand-off). */
function sys_stress_mutex(): number {
  const lock = regions.torture + TORTURE.mutex;
  if (mutex_lock(lock, 142) === SLEEP) return SLEEP;
  const k = cnt();
  if (Atomics.add(mem, k + CNT_MUTEX_INSIDE, 1) !== 0) record_violation(V_MUTUAL_EXCLUSION, lock, 1, Atomics.load(mem, k + CNT_MUTEX_INSIDE));
  const v = mem[k + CNT_MUTEX_COUNTER]!;
  sched_hook(143);
  mem[k + CNT_MUTEX_COUNTER] = v + 1;
  Atomics.add(mem, k + CNT_MUTEX_ACQ, 1);
  Atomics.sub(mem, k + CNT_MUTEX_INSIDE, 1);
  mutex_unlock(lock);
  return 0;
}

const S = (): number => kg + G.stress;

/** The task's stress draws (TASK.stress_rng), a stream seeded from the run seed and the task id on first use. */
export function task_rand(t: number): number {
  if (mem[t + TASK.stress_seeded] === 0) {
    mem[t + TASK.stress_rng] = prng_seed(mem[S() + STRESS_SEED]!, mem[t + TASK.id]!);
    mem[t + TASK.stress_seeded] = 1;
  }
  return prng_next(mem, t + TASK.stress_rng);
}

/** Count the result of an operation (errno buckets) in the shared result table. */
export function account(op: number, ret: number): void {
  const table = mem[S() + STRESS_TABLE]!;
  if (!table) return;
  const b = ret >= 0 ? 0 : Math.min(-ret, RES_SKIPPED - 1);
  Atomics.add(mem, table + op * RES_BUCKETS + b, 1);
  Atomics.add(mem, S() + STRESS_OPS_DONE, 1);
}

export function account_skip(op: number): void {
  const table = mem[S() + STRESS_TABLE]!;
  if (table) Atomics.add(mem, table + op * RES_BUCKETS + RES_SKIPPED, 1);
}

/** A sub-call chosen by an operation: the syscall and its arguments. */
export interface SubCall { nr: number; a: number; b: number; c: number; op?: number }

function torture_op(op: number): SubCall | null {
  switch (OPS[op]!.name) {
    case 'spin': return { nr: SYS_STRESS_SPIN, a: 0, b: 0, c: 0 };
    case 'rw-read': return { nr: SYS_TORTURE_READ, a: 0, b: 0, c: 0 };
    case 'rw-write': return { nr: SYS_TORTURE_WRITE, a: 0, b: 0, c: 0 };
    case 'mutex': return { nr: SYS_STRESS_MUTEX, a: 0, b: 0, c: 0 };
    case 'rcu-read': return { nr: SYS_TORTURE_RCU_READ, a: 0, b: 0, c: 0 };
    case 'rcu-write': return { nr: SYS_TORTURE_RCU_WRITE, a: (mem[S() + STRESS_BUSTED]! & STRESS_BUST_RCU) !== 0 ? 1 : 0, b: 0, c: 0 };
    case 'sync-rcu': return { nr: SYS_SYNCHRONIZE_RCU, a: 0, b: 0, c: 0 };
    case 'sync-srcu': return { nr: SYS_SYNCHRONIZE_SRCU, a: 0, b: 0, c: 0 };
    default: return null;
  }
}

/** Run a sub-call as the task's pending call: if it sleeps, the task resumes in it. */
function dispatch(t: number, op: number, sc: SubCall): number {
  const fn = syscall_fn(sc.nr);
  if (!fn) { account_skip(op); return 0; }
  set_ucall(t, sc.nr, sc.a, sc.b, sc.c);
  // exit never returns to be accounted: count it now.
  if (sc.nr === SYS_EXIT || sc.nr === SYS_EXIT_GROUP || sc.nr === SYS_REBOOT) account(op, 0);
  else mem[t + TASK.user_arg] = op + 1;
  return fn(sc.a, sc.b, sc.c);
}

const MAX_PICKS = 8;
/** The weight table's last cumulative weight: the total. */
const MIX_TOTAL = OPS.length - 1;

/**
 * Draw an operation of the mix: the weight table (G.stress[STRESS_MIX], cumulative weights, see
 * mix_weights in src/stress/ops.ts) maps a draw below its total to the operation whose share of
 * the total it falls in. -1 for an empty mix.
 */
function pick_op(t: number, cum: number): number {
  const total = mem[cum + MIX_TOTAL]!;
  if (total <= 0) return -1;
  const r = task_rand(t) % total;
  let lo = 0;
  let hi = MIX_TOTAL;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (mem[cum + mid]! > r) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function sys_stress_op(): number {
  const t = current;
  const g = S();
  const prev = mem[t + TASK.user_arg]!;
  if (prev) {
    mem[t + TASK.user_arg] = 0;
    const ret = mem[t + TASK.last_ret]!;
    account(prev - 1, ret);
    if (OPS[prev - 1]!.kernel) kernel_op_done(t, prev - 1, ret);
  }
  const kthread = (mem[t + TASK.flags]! & PF_KTHREAD) !== 0;
  if ((mem[g + STRESS_BUSTED]! & STRESS_BUST_CRASH) !== 0 && Atomics.load(mem, g + STRESS_OPS_DONE) >= 100) {
    throw new Error('stress_op: planted crash (--plant crash) after 100 operations');
  }
  // A compound operation (open an fd, use it, close it) continues before anything new starts.
  if (!kthread) {
    const cont = kernel_op(t, -1, task_rand);
    if (cont) return dispatch(t, cont.op, cont);
  }
  if (Atomics.load(mem, g + STRESS_STOP) !== 0 || Atomics.sub(mem, g + STRESS_OPS_LEFT, 1) <= 0) {
    if (kthread) {
      // Run off the end of the program: [STRESS_OP] [JMP 0] [end]. pc becomes 2 after this call.
      mem[t + TASK.pc] = 1;
      return 0;
    }
    const wd = kernel_wind_down(t);
    if (wd) return dispatch(t, wd.op, wd);
    mem[t + TASK.pc] = 1;
    return 0;
  }
  const cum = mem[g + STRESS_MIX]!;
  for (let i = 0; i < MAX_PICKS; i++) {
    const op = pick_op(t, cum);
    if (op < 0) break;
    const sc = OPS[op]!.kernel ? (kthread ? null : kernel_op(t, op, task_rand)) : torture_op(op);
    if (!sc) { account_skip(op); continue; }
    return dispatch(t, sc.op ?? op, sc);
  }
  return 0;
}

/** Children of t that have not exited, services aside (the reaper's population; read by t itself, which alone adds to it). */
function live_children(t: number): number {
  let n = 0;
  for (let c = mem[t + TASK.children]!, k = 0; c && k < 100_000; c = mem[c + TASK.sibling_next]!, k++) {
    if (mem[c + TASK.exit_state] === 0 && !is_daemon(c)) n++;
  }
  return n;
}

/** Marks "the last sub-call was the reaper's wait4" in TASK.user_arg. */
const REAP_MARK = -77;
const SPAWN_MARK = -78;
/** The reaper slept a grace period before retrying a fork with no child left (see below). */
const GP_MARK = -79;
/** The reaper sent SIGCONT to a stopped child its wait reported (see below). */
const CONT_MARK = -80;

/**
 * The reaper's program is [.., 3: STRESS_REAP, 4: JMP 3, 5: EXIT]: each call reaps one child with
 * a blocking wait4 as a sub-call; once wait4 says ECHILD it moves the pc so the program exits.
 */
function sys_stress_reap(): number {
  const t = current;
  const g = S();
  const mark = mem[t + TASK.user_arg]!;
  mem[t + TASK.user_arg] = 0;
  const stopping = Atomics.load(mem, g + STRESS_STOP) !== 0 || Atomics.load(mem, g + STRESS_OPS_LEFT) <= 0;
  if (mark === REAP_MARK && mem[t + TASK.last_ret] === -ECHILD && stopping) {
    mem[t + TASK.pc] = 4; // task_step moves it on to the exit
    return 0;
  }
  // No child left and the fork that should have replaced them failed (slabs full of objects that
  // wait for a grace period): wait a grace period before retrying. Without a sleep here the reaper
  // would retry at once forever, and under PCT its CPU would never give the others the turn they
  // need to pass a quiescent state, so the grace period it waits for would never come.
  if (mark === REAP_MARK && mem[t + TASK.last_ret] === -ECHILD && !stopping) {
    const sync = syscall_fn(SYS_SYNCHRONIZE_RCU);
    if (sync) {
      set_ucall(t, SYS_SYNCHRONIZE_RCU, 0, 0, 0);
      mem[t + TASK.user_arg] = GP_MARK;
      return sync(0, 0, 0);
    }
  }
  // A child stopped by job control (stop-cont) would never exit: the reaper waits as a shell does,
  // with WUNTRACED, and continues a stopped child its wait reports. Every parent does the same (the
  // wait operation's job control, kernel_wind_down), so each stop is reported to its real parent and
  // continued. Nothing continues everything at once: kill(-1, SIGCONT) would also resume a stop
  // that the real parent's wait failed to see (catalog entry 21, 7c733eb3eac0).
  const kill = syscall_fn(SYS_KILL);
  const reaped = mem[t + TASK.last_ret]!;
  if (mark === REAP_MARK && reaped > 0 && (mem[t + TASK.last_status]! & 0xff) === 0x7f && kill) {
    // A child that asked PTRACE_TRACEME is the reaper's tracee: its stop is a ptrace trap, which
    // SIGCONT does not end; the reaper resumes it as its debugger (PTRACE_CONT).
    const ptrace = syscall_fn(SYS_PTRACE);
    if (ptrace && is_tracee_of(t, reaped)) {
      set_ucall(t, SYS_PTRACE, PTRACE_CONT, reaped, 0);
      mem[t + TASK.user_arg] = CONT_MARK;
      return ptrace(PTRACE_CONT, reaped, 0);
    }
    set_ucall(t, SYS_KILL, reaped, SIGCONT, 0);
    mem[t + TASK.user_arg] = CONT_MARK;
    return kill(reaped, SIGCONT, 0);
  }
  // Winding down, the reaper detaches from what it traces (a child's PTRACE_TRACEME) before it
  // waits, so a stopped traced child is its job again.
  // Then it kills the services that are left, all of them but those of namespaces whose init is
  // exiting (sweep_daemons): at the wind-down nothing else may keep a wait (its own, or one it
  // waits for) blocked.
  // Until then it stops the services among its own children (orphans it adopted: their parents
  // exited without stopping them), as a service manager stops units whose owner is gone, so that
  // services do not pile up for the whole run (those of namespaces other than its own end with
  // their namespace's init).
  const detach = stopping ? detach_first_tracee(t, -1) ?? sweep_daemons(t, -1) : stop_daemon_child(t, -1);
  if (detach) {
    const fn = syscall_fn(detach.nr);
    if (fn) {
      set_ucall(t, detach.nr, detach.a, detach.b, 0);
      mem[t + TASK.user_arg] = CONT_MARK;
      return fn(detach.a, detach.b, 0);
    }
  }
  // Keep STRESS_TASKS stress processes of our own alive (orphans that end up our children count
  // too), so the mix never dies out and does not grow without bound; a failed fork is retried at
  // the next reap.
  const fork = syscall_fn(SYS_FORK);
  const failed = mark === SPAWN_MARK && mem[t + TASK.last_ret]! < 0; // wait a little before retrying
  if (!stopping && fork && !failed && live_children(t) < mem[g + STRESS_TASKS]!) {
    const prog = mem[g + STRESS_PROG]!;
    set_ucall(t, SYS_FORK, 0, prog, 0);
    mem[t + TASK.user_arg] = SPAWN_MARK;
    return fork(0, prog, 0);
  }
  // A group stop the wait below cannot report (the stopped process's zombie leader is our own
  // tracee: hidden_group_stop_of_tracee) is continued first, or we would sleep for good.
  const hidden = kill ? hidden_group_stop_of_tracee(t) : 0;
  if (hidden > 0) {
    set_ucall(t, SYS_KILL, hidden, SIGCONT, 0);
    mem[t + TASK.user_arg] = CONT_MARK;
    return kill!(hidden, SIGCONT, 0);
  }
  // A blocking wait4 needs a child whose news will come: one that is not a live service
  // (has_non_service_child; the reaper stops the services it adopts, above, but a fork may have
  // failed since). With services only and the run not winding down, the reaper sleeps a grace
  // period and looks again. Winding down, every task's wind-down has swept the services
  // (kernel_wind_down), and those left die on their own (SIGKILL pending, or their namespace's
  // init is exiting: zap_pid_ns_processes).
  const sync = syscall_fn(SYS_SYNCHRONIZE_RCU);
  if (!stopping && sync && mem[t + TASK.children] && !has_non_service_child(t)) {
    set_ucall(t, SYS_SYNCHRONIZE_RCU, 0, 0, 0);
    mem[t + TASK.user_arg] = GP_MARK;
    return sync(0, 0, 0);
  }
  const wait = syscall_fn(SYS_WAIT4);
  if (!wait) return -ENOSYS;
  set_ucall(t, SYS_WAIT4, -1, __WALL | WUNTRACED, 0);
  mem[t + TASK.user_arg] = REAP_MARK;
  return wait(-1, __WALL | WUNTRACED, 0);
}

register_syscall(SYS_STRESS_OP, 'stress_op', sys_stress_op);
register_syscall(SYS_STRESS_REAP, 'stress_reap', sys_stress_reap);
register_syscall(SYS_STRESS_SPIN, 'stress_spin', sys_stress_spin);
register_syscall(SYS_STRESS_MUTEX, 'stress_mutex', sys_stress_mutex);
register_syscall(SYS_TEST_LOCK2, 'test_lock2', sys_test_lock2);
register_syscall(SYS_TEST_HANG, 'test_hang', sys_test_hang);
register_syscall(SYS_TEST_HOLD, 'test_hold', sys_test_hold);
register_syscall(SYS_TEST_RELEASE, 'test_release', sys_test_release);
register_syscall(SYS_TEST_SLEEP_IN_ATOMIC, 'test_sleep_in_atomic', sys_test_sleep_in_atomic);
register_syscall(SYS_TEST_PUT_USER_ATOMIC, 'test_put_user_atomic', sys_test_put_user_atomic);
register_syscall(SYS_TEST_LIST_CYCLE, 'test_list_cycle', function sys_test_list_cycle(): number {
  const first = mem[current + TASK.children]!;
  if (!first) return -ECHILD;
  mem[first + TASK.sibling_next] = first;
  return 0;
});
register_syscall(SYS_TEST_CRASH, 'test_crash', function sys_test_crash(): number {
  throw new Error('test_crash: a deliberate exception inside the kernel');
});
