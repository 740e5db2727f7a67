/**
 * Torture system calls: the model's locktorture (kernel/locking/locktorture.c) and rcutorture
 * (kernel/rcu/rcutorture.c). Each call is one critical section, so a program loops over it and
 * every CPU interleaves them with its other tasks.
 */
import { RCUOBJ, TASK, TORTURE, TORTURE_LOG_ENTRIES } from '../mm/layout.js';
import { mem, regions, SLAB_TORTURE } from '../mm/memory.js';
import { kmem_cache_alloc, kmem_cache_free, mark_live } from '../mm/slab.js';
import { spin_lock, spin_lock_busted, spin_unlock, spin_unlock_busted } from '../locking/spinlock.js';
import { read_lock, read_unlock, write_lock, write_unlock } from '../locking/qrwlock.js';
import { mutex_lock, mutex_unlock } from '../locking/mutex.js';
import { record_violation, V_MUTUAL_EXCLUSION } from '../locking/violations.js';
import { call_rcu, rcu_dereference_check, rcu_read_lock, rcu_read_unlock, register_rcu_callback, synchronize_rcu } from '../rcu/rcu.js';
import { srcu_exit, srcu_read_lock, srcu_read_unlock, synchronize_srcu } from '../rcu/srcu.js';
import { exit_tasks_rcu_finish, exit_tasks_rcu_start, synchronize_rcu_tasks } from '../rcu/tasks.js';
import { sched_hook } from '../sched/hook.js';
import { current, SLEEP, TASK_INTERRUPTIBLE, WCHAN_WAITQ } from '../sched/core.js';
import { finish_wait, prepare_to_wait, wake_up } from '../sched/wait.js';
import { register_syscall } from './entry.js';
import { ENOMEM } from './errno.js';
import { SYS_SYNCHRONIZE_RCU_TASKS } from './unistd.js';

export const SYS_TORTURE_SPIN = 100;
export const SYS_TORTURE_READ = 101;
export const SYS_TORTURE_WRITE = 102;
export const SYS_TORTURE_MUTEX = 103;
export const SYS_TORTURE_RCU_READ = 104;
export const SYS_TORTURE_RCU_WRITE = 105;
export const SYS_TORTURE_SRCU_READ_SLEEP = 106;
export const SYS_SYNCHRONIZE_SRCU = 107;
export const SYS_SYNCHRONIZE_RCU = 108;
export const SYS_WAIT_FLAG = 109;
export const SYS_SET_FLAG = 110;
export const SYS_LOG = 111;
export const SYS_PINGPONG = 112;
export const SYS_TORTURE_SRCU_READER = 113;
export const SYS_TORTURE_SRCU_WRITE = 114;
export const SYS_TORTURE_RCU_READER = 115;
export const SYS_TORTURE_TASKS_EXIT_READER = 116;
export const SYS_TORTURE_TASKS_WRITE = 117;

/** rcu_head callback id for rcu_torture objects. */
export const RCB_TORTURE_FREE = 1;

const T = (): number => regions.torture;

function log_event(v: number): void {
  const n = Atomics.add(mem, T() + TORTURE.log_len, 1);
  if (n < TORTURE_LOG_ENTRIES) Atomics.store(mem, T() + TORTURE.log + n, v);
}

/** One spinlock critical section: a plain read-modify-write of the counter with a window inside. */
function torture_spin(): number {
  const t = T();
  const busted = mem[t + TORTURE.busted] !== 0;
  if (busted) spin_lock_busted(t + TORTURE.spin, 10);
  else spin_lock(t + TORTURE.spin, 10);
  const v = mem[t + TORTURE.counter]!;
  sched_hook(11); // the window a missing lock would expose
  for (let i = 0; i < 50; i++) if (mem[t + TORTURE.counter] !== v) break;
  mem[t + TORTURE.counter] = v + 1;
  Atomics.add(mem, t + TORTURE.acquisitions, 1);
  if (busted) spin_unlock_busted(t + TORTURE.spin);
  else spin_unlock(t + TORTURE.spin);
  return 0;
}

function torture_read(): number {
  const t = T();
  read_lock(t + TORTURE.rw, 12);
  Atomics.add(mem, t + TORTURE.rw_readers_in, 1);
  if (Atomics.load(mem, t + TORTURE.rw_writer_in) !== 0) {
    Atomics.add(mem, t + TORTURE.rw_overlap, 1);
    record_violation(V_MUTUAL_EXCLUSION, t + TORTURE.rw, 0, 1);
  }
  sched_hook(13);
  Atomics.sub(mem, t + TORTURE.rw_readers_in, 1);
  Atomics.add(mem, t + TORTURE.rw_reader_acq, 1);
  read_unlock(t + TORTURE.rw);
  return 0;
}

function torture_write(): number {
  const t = T();
  const t0 = performance.now();
  write_lock(t + TORTURE.rw, 14);
  const waited = Math.round((performance.now() - t0) * 1000);
  if (waited > mem[t + TORTURE.rw_writer_max_wait_us]!) mem[t + TORTURE.rw_writer_max_wait_us] = waited;
  Atomics.add(mem, t + TORTURE.rw_writer_in, 1);
  if (Atomics.load(mem, t + TORTURE.rw_readers_in) !== 0 || Atomics.load(mem, t + TORTURE.rw_writer_in) !== 1) {
    Atomics.add(mem, t + TORTURE.rw_overlap, 1);
    record_violation(V_MUTUAL_EXCLUSION, t + TORTURE.rw, 1, Atomics.load(mem, t + TORTURE.rw_readers_in));
  }
  sched_hook(15);
  Atomics.sub(mem, t + TORTURE.rw_writer_in, 1);
  Atomics.add(mem, t + TORTURE.rw_writer_acq, 1);
  write_unlock(t + TORTURE.rw);
  return 0;
}

/** One mutex critical section; sleeps when contended (the restarted call finds the hand-off). */
function torture_mutex(): number {
  const t = T();
  if (mutex_lock(t + TORTURE.mutex, 16) === SLEEP) return SLEEP;
  const v = mem[t + TORTURE.counter]!;
  sched_hook(17);
  mem[t + TORTURE.counter] = v + 1;
  Atomics.add(mem, t + TORTURE.acquisitions, 1);
  mutex_unlock(t + TORTURE.mutex);
  return 0;
}

/** rcu_torture_reader: dereference the current object inside a read-side section, with windows. */
function torture_rcu_read(): number {
  const t = T();
  rcu_read_lock(18);
  const p = Atomics.load(mem, t + TORTURE.rcu_ptr);
  for (let i = 0; i < 4; i++) {
    sched_hook(19);
    rcu_dereference_check(p, RCUOBJ.poison);
  }
  rcu_read_unlock();
  Atomics.add(mem, t + TORTURE.rcu_reads, 1);
  return 0;
}

/**
 * rcu_torture_writer: publish a new object and retire the old one with call_rcu. With `busted`
 * set (a = 1) the old object is freed at once, as a missing grace period would: readers must
 * catch it.
 */
function torture_rcu_write(busted: number): number {
  const t = T();
  const p = kmem_cache_alloc(SLAB_TORTURE);
  if (!p) {
    Atomics.add(mem, t + TORTURE.rcu_alloc_fail, 1);
    return -ENOMEM;
  }
  mark_live(p, RCUOBJ.poison);
  const old = Atomics.exchange(mem, t + TORTURE.rcu_ptr, p); // rcu_assign_pointer
  if (old) {
    Atomics.add(mem, t + TORTURE.rcu_retired, 1);
    if (busted) rcu_torture_free(old);
    else call_rcu(old + RCUOBJ.rcu, RCB_TORTURE_FREE, old);
  }
  return 0;
}

function rcu_torture_free(obj: number): void {
  kmem_cache_free(SLAB_TORTURE, obj, RCUOBJ.poison);
  Atomics.add(mem, T() + TORTURE.rcu_freed, 1);
}

/**
 * An SRCU reader that sleeps inside its read-side section until flag[a] is set, then leaves.
 * restart[0] holds the index while it sleeps.
 */
function torture_srcu_read_sleep(flag: number, logTag: number): number {
  const t = current;
  const tt = T();
  if (mem[t + TASK.restart_phase] === 0) {
    mem[t + TASK.restart] = srcu_read_lock(srcu_exit(), 20);
    mem[t + TASK.restart_phase] = 1;
    if (logTag) log_event(logTag);
  }
  prepare_to_wait(tt + TORTURE.wq, TASK_INTERRUPTIBLE, WCHAN_WAITQ, tt + TORTURE.flags + flag, 0);
  if (Atomics.load(mem, tt + TORTURE.flags + flag) === 0) return SLEEP;
  finish_wait(tt + TORTURE.wq);
  srcu_read_unlock(srcu_exit(), mem[t + TASK.restart + SR_IDX]!);
  mem[t + TASK.restart_phase] = 0;
  if (logTag) log_event(logTag + 1);
  return 0;
}

/**
 * rcutorture's SRCU reader with a hand-shake (a = flag to set once inside, b = flag to wait for,
 * c = log tag): srcu_read_lock, srcu_dereference the torture object, log c + idx, set flag[a],
 * sleep until flag[b], then check the object (use-after-free) and srcu_read_unlock.
 * restart[0] holds the index, restart[1] the object, while it sleeps.
 */
/** Restart locals of torture_srcu_reader: the srcu index and the pointer it dereferenced. */
const SR_IDX = 0;
const SR_PTR = 1;

function torture_srcu_reader(wake: number, wait: number, logTag: number): number {
  const t = current;
  const tt = T();
  if (mem[t + TASK.restart_phase] === 0) {
    const idx = srcu_read_lock(srcu_exit(), 20);
    mem[t + TASK.restart + SR_IDX] = idx;
    mem[t + TASK.restart + SR_PTR] = Atomics.load(mem, tt + TORTURE.rcu_ptr); // srcu_dereference
    mem[t + TASK.restart_phase] = 1;
    if (logTag) log_event(logTag + idx);
    set_flag(wake, 0);
  }
  prepare_to_wait(tt + TORTURE.wq, TASK_INTERRUPTIBLE, WCHAN_WAITQ, tt + TORTURE.flags + wait, 0);
  if (Atomics.load(mem, tt + TORTURE.flags + wait) === 0) return SLEEP;
  finish_wait(tt + TORTURE.wq);
  rcu_dereference_check(mem[t + TASK.restart + SR_PTR]!, RCUOBJ.poison);
  Atomics.add(mem, tt + TORTURE.rcu_reads, 1);
  srcu_read_unlock(srcu_exit(), mem[t + TASK.restart + SR_IDX]!);
  mem[t + TASK.restart_phase] = 0;
  return 0;
}

/**
 * rcutorture's writer (a = log tag when done): publish a new object, wait for a grace period of
 * the flavour under test, free the old one at once. restart[0] holds the old object across the
 * grace period; the restartable wait keeps its own phase (SRCU's in the srcu_struct, Tasks RCU's
 * in TASK.rcu_tasks_phase).
 */
function torture_gp_write(logTag: number, synchronize: () => number): number {
  const t = current;
  const tt = T();
  if (mem[t + TASK.restart_phase] === 0) {
    const p = kmem_cache_alloc(SLAB_TORTURE);
    if (!p) {
      Atomics.add(mem, tt + TORTURE.rcu_alloc_fail, 1);
      return -ENOMEM;
    }
    mark_live(p, RCUOBJ.poison);
    mem[t + TASK.restart] = Atomics.exchange(mem, tt + TORTURE.rcu_ptr, p); // rcu_assign_pointer
    mem[t + TASK.restart_phase] = 1;
  }
  if (synchronize() === SLEEP) return SLEEP;
  const old = mem[t + TASK.restart]!;
  mem[t + TASK.restart_phase] = 0;
  if (old) {
    Atomics.add(mem, tt + TORTURE.rcu_retired, 1);
    rcu_torture_free(old);
  }
  if (logTag) log_event(logTag);
  return 0;
}

/** rcutorture's SRCU writer: torture_gp_write with synchronize_srcu. */
function torture_srcu_write(logTag: number): number {
  return torture_gp_write(logTag, () => synchronize_srcu(srcu_exit()));
}

/**
 * A reader with a hand-shake (a = flag to set once inside, b = log tag): log b, enter the read
 * side, dereference the torture object, log b + 1, set flag[a] (its wake-up's hooks lie inside the
 * read side), check the object, leave, log b + 2. The only hooks between the first two logs are
 * those of `enter`.
 */
function torture_handshake_reader(wake: number, logTag: number, enter: () => void, leave: () => void): number {
  const tt = T();
  if (logTag) log_event(logTag);
  enter();
  const p = Atomics.load(mem, tt + TORTURE.rcu_ptr); // rcu_dereference
  if (logTag) log_event(logTag + 1);
  set_flag(wake, 0);
  sched_hook(19);
  rcu_dereference_check(p, RCUOBJ.poison);
  leave();
  Atomics.add(mem, tt + TORTURE.rcu_reads, 1);
  if (logTag) log_event(logTag + 2);
  return 0;
}

/** rcutorture's RCU reader: the hand-shake reader inside rcu_read_lock (hook site 18). */
function torture_rcu_reader(wake: number, logTag: number): number {
  return torture_handshake_reader(wake, logTag, () => rcu_read_lock(18), rcu_read_unlock);
}

/**
 * A Tasks RCU reader on the exit path: the hand-shake reader between exit_tasks_rcu_start and
 * exit_tasks_rcu_finish, as the tail of do_exit runs.
 */
function torture_tasks_exit_reader(wake: number, logTag: number): number {
  return torture_handshake_reader(wake, logTag, exit_tasks_rcu_start, exit_tasks_rcu_finish);
}

/** Tasks RCU writer: torture_gp_write with synchronize_rcu_tasks. */
function torture_tasks_write(logTag: number): number {
  return torture_gp_write(logTag, synchronize_rcu_tasks);
}

function sys_synchronize_srcu(logTag: number): number {
  const r = synchronize_srcu(srcu_exit());
  if (r === 0 && logTag) log_event(logTag);
  return r;
}

function sys_synchronize_rcu(logTag: number): number {
  const r = synchronize_rcu();
  if (r === 0 && logTag) log_event(logTag);
  return r;
}

/** Sleep until flag[a] is set (wait_event_interruptible). */
function wait_flag(flag: number, logTag: number): number {
  const tt = T();
  prepare_to_wait(tt + TORTURE.wq, TASK_INTERRUPTIBLE, WCHAN_WAITQ, tt + TORTURE.flags + flag, 0);
  if (Atomics.load(mem, tt + TORTURE.flags + flag) === 0) return SLEEP;
  finish_wait(tt + TORTURE.wq);
  if (logTag) log_event(logTag);
  return 0;
}

/** Set flag[a] and wake the waiters. */
function set_flag(flag: number, logTag: number): number {
  const tt = T();
  if (logTag) log_event(logTag);
  Atomics.store(mem, tt + TORTURE.flags + flag, 1);
  wake_up(tt + TORTURE.wq);
  return 0;
}

register_syscall(SYS_TORTURE_SPIN, 'torture_spin', torture_spin);
register_syscall(SYS_TORTURE_READ, 'torture_read', torture_read);
register_syscall(SYS_TORTURE_WRITE, 'torture_write', torture_write);
register_syscall(SYS_TORTURE_MUTEX, 'torture_mutex', torture_mutex);
register_syscall(SYS_TORTURE_RCU_READ, 'torture_rcu_read', torture_rcu_read);
register_syscall(SYS_TORTURE_RCU_WRITE, 'torture_rcu_write', torture_rcu_write);
register_syscall(SYS_TORTURE_SRCU_READ_SLEEP, 'torture_srcu_read_sleep', torture_srcu_read_sleep);
register_syscall(SYS_SYNCHRONIZE_SRCU, 'synchronize_srcu', sys_synchronize_srcu);
register_syscall(SYS_TORTURE_SRCU_READER, 'torture_srcu_reader', torture_srcu_reader);
register_syscall(SYS_TORTURE_SRCU_WRITE, 'torture_srcu_write', torture_srcu_write);
register_syscall(SYS_TORTURE_RCU_READER, 'torture_rcu_reader', torture_rcu_reader);
register_syscall(SYS_TORTURE_TASKS_EXIT_READER, 'torture_tasks_exit_reader', torture_tasks_exit_reader);
register_syscall(SYS_TORTURE_TASKS_WRITE, 'torture_tasks_write', torture_tasks_write);
register_syscall(SYS_SYNCHRONIZE_RCU, 'synchronize_rcu', sys_synchronize_rcu);
// The kernel registers the system call; rcu/tasks.ts is the primitive (it registers nothing).
register_syscall(SYS_SYNCHRONIZE_RCU_TASKS, 'synchronize_rcu_tasks', () => synchronize_rcu_tasks());
register_syscall(SYS_WAIT_FLAG, 'wait_flag', wait_flag);
register_syscall(SYS_SET_FLAG, 'set_flag', set_flag);
/**
 * Ping-pong: wait until flags[0] says it is our turn (a = role 0/1), then pass the turn and wake
 * the other task: one schedule-and-wake each way per round (the benchmark of a context switch).
 */
function pingpong(role: number): number {
  const tt = T();
  const turn = tt + TORTURE.flags;
  prepare_to_wait(tt + TORTURE.wq, TASK_INTERRUPTIBLE, WCHAN_WAITQ, turn, role);
  if (Atomics.load(mem, turn) !== role) return SLEEP;
  finish_wait(tt + TORTURE.wq);
  Atomics.store(mem, turn, role ^ 1);
  wake_up(tt + TORTURE.wq);
  return 0;
}

register_syscall(SYS_PINGPONG, 'pingpong', pingpong);
register_syscall(SYS_LOG, 'log', (v) => { log_event(v); return 0; });
register_rcu_callback(RCB_TORTURE_FREE, rcu_torture_free);
