/**
 * O_ASYNC signal delivery (fs/fcntl.c: kill_fasync, send_sigio) and the task-context reader of
 * tasklist_lock that catalog entry 7 needs (kernel/exit.c: mm_update_next_owner).
 *
 * kill_fasync is called from task context (a write to a pipe or tty) and from interrupt context
 * (a device driver's handler): both take fa->fa_lock, then send_sigio takes the owner's
 * f_owner.lock and, for a process-group owner, read_lock(&tasklist_lock). Before 7a107c0f55a3
 * ("fasync: Fix deadlock between task-context and interrupt-context kill_fasync()", Kirill Tkhai,
 * 2018) fa_lock was a spinlock; the fix made it an rwlock, so the interrupt-context reader goes
 * through a task-context reader on another CPU, as the queued rwlock lets interrupt readers do
 * (70af2f8a4f48; src/locking/qrwlock.ts). BUG_FASYNC_SPINLOCK keeps the spinlock:
 *
 *   CPU A (task 1)                 CPU B (task 2)                  CPU C (task 3)
 *   kill_fasync                    mm_update_next_owner            copy_process
 *    spin_lock_irqsave(fa_lock)     read_lock(tasklist_lock)        write_lock_irq(tasklist_lock)
 *     send_sigio                    <IRQ> kill_fasync                 (waits for B's reader;
 *      read_lock(tasklist_lock)       spin_lock_irqsave(fa_lock)      new readers queue behind it)
 *       (queued behind C)               (held by A)
 *
 * The owner is a process group (F_SETOWN with a negative pid), so send_sigio walks it under
 * read_lock(&tasklist_lock) as today's code does for PIDTYPE_PGID (in 2018 every owner type took
 * it). The signal is the owner's F_SETSIG signal; the scenarios use SIGURG, whose default action is
 * "ignore", so delivery never kills anyone.
 */
import { CPU, FASYNC, G, TASK } from '../mm/layout.js';
import { kg, mem, this_cpu, this_cpu_id } from '../mm/memory.js';
import { lock_class_register } from '../locking/lockdep.js';
import { spin_lock, spin_lock_init, spin_unlock } from '../locking/spinlock.js';
import { read_lock, read_unlock, rwlock_init } from '../locking/qrwlock.js';
import { rcu_read_lock, rcu_read_unlock } from '../rcu/rcu.js';
import { sched_hook } from '../sched/hook.js';
import { IRQV_KILL_FASYNC, raise_irq, register_irq_handler } from '../sched/irq.js';
import { current } from '../sched/core.js';
import { register_syscall } from './entry.js';
import { BUG_FASYNC_SPINLOCK } from '../config/bugs.js';
import { EINVAL } from './errno.js';
import { SYS_KILL_FASYNC, SYS_MM_UPDATE_NEXT_OWNER, SYS_RAISE_IRQ } from './unistd.js';
import { get_pid, pid_task, PIDTYPE_PID, PIDTYPE_TGID } from './pid.js';
import { do_send_sig_info, SEND_SIG_PRIV } from './signal.js';
import { SIGURG } from './sched_task.js';

/** include/linux/fs.h: FASYNC_MAGIC. */
export const FASYNC_MAGIC = 0x4601;
/** Signals and bands (include/uapi/asm-generic/signal.h, siginfo.h). */
export const SIGIO = 29;
export const POLL_IN = 1;

/** Scheduling-hook sites (race windows). */
export const SITE_KILL_FASYNC = 240;
export const SITE_SEND_SIGIO = 241;
export const SITE_MM_OWNER_SCAN = 242;

/** Lock classes (registered at module load so every thread numbers them alike). */
export const LC_FA_LOCK = lock_class_register('&new->fa_lock');
export const LC_FOWN_LOCK = lock_class_register('&f->f_owner.lock');

const fa_spinlock = (): boolean => (mem[kg + G.bug_switches]! & BUG_FASYNC_SPINLOCK) !== 0;

/**
 * fasync_helper's new entry plus F_SETOWN/F_SETSIG (main thread, during setup, or kernel code):
 * an fasync_struct at `fa` (FASYNC.SIZE zeroed words) for descriptor `fd`, owned by `owner_pid`
 * (a struct pid; a reference is taken) as `pid_type`, sending `signum`.
 */
export function fasync_init(fa: number, fd: number, owner_pid: number, pid_type: number, signum: number): void {
  spin_lock_init(fa + FASYNC.fa_lock_spin, LC_FA_LOCK);
  rwlock_init(fa + FASYNC.fa_lock_rw, LC_FA_LOCK);
  rwlock_init(fa + FASYNC.fown_lock, LC_FOWN_LOCK);
  mem[fa + FASYNC.fa_next] = 0;
  mem[fa + FASYNC.fa_fd] = fd;
  mem[fa + FASYNC.fa_file] = 1;
  mem[fa + FASYNC.fown_pid] = get_pid(owner_pid);
  mem[fa + FASYNC.fown_pid_type] = pid_type;
  mem[fa + FASYNC.signum] = signum;
  // The f_owner's pid reference is visible to the audit (kernel/audit.ts) through G.fasync_owners.
  mem[fa + FASYNC.owned_next] = mem[kg + G.fasync_owners]!;
  mem[kg + G.fasync_owners] = fa;
  Atomics.store(mem, fa + FASYNC.magic, FASYNC_MAGIC);
}

/** send_sigio_to_task (fs/fcntl.c): the owner's signal to one process (sigio_perm: same creds). */
function send_sigio_to_task(p: number, fa: number): void {
  const signum = mem[fa + FASYNC.signum]! || SIGIO;
  if (do_send_sig_info(signum, SEND_SIG_PRIV, p, PIDTYPE_TGID) === 0) Atomics.add(mem, fa + FASYNC.sent, 1);
}

/**
 * send_sigio (fs/fcntl.c): under read_lock(&fown->lock), signal the owner: one task under RCU,
 * or every process of a process group under read_lock(&tasklist_lock) (do_each_pid_task; the
 * model walks the process list and matches the group leader's pgrp).
 */
export function send_sigio(fa: number, _fd: number, _band: number): void {
  const fl = fa + FASYNC.fown_lock;
  read_lock(fl, SITE_SEND_SIGIO);
  const type = mem[fa + FASYNC.fown_pid_type]!;
  const pid = mem[fa + FASYNC.fown_pid]!;
  if (pid) {
    if (type <= PIDTYPE_TGID) {
      rcu_read_lock();
      const p = pid_task(pid, type === PIDTYPE_PID ? PIDTYPE_PID : PIDTYPE_TGID);
      if (p) send_sigio_to_task(p, fa);
      rcu_read_unlock();
    } else {
      const tl = kg + G.tasklist_lock;
      read_lock(tl, SITE_SEND_SIGIO);
      const head = mem[kg + G.init_task]!;
      let p = head;
      if (p) {
        do {
          if (mem[mem[p + TASK.group_leader]! + TASK.pgrp] === pid) send_sigio_to_task(p, fa);
          p = mem[p + TASK.tasks_next]!;
        } while (p !== head && p !== 0);
      }
      read_unlock(tl);
    }
  }
  read_unlock(fl);
}

/**
 * kill_fasync_rcu (fs/fcntl.c): for each entry, fa_lock (irqsave), send_sigio if the file is
 * still there, unlock. fa_lock is a spinlock with BUG_FASYNC_SPINLOCK, an rwlock taken for read
 * otherwise (7a107c0f55a3).
 */
function kill_fasync_rcu(fa: number, sig: number, band: number): void {
  const c = this_cpu;
  while (fa) {
    if (mem[fa + FASYNC.magic] !== FASYNC_MAGIC) return; // "kill_fasync: bad magic number in fasync_struct!"
    const spin = fa_spinlock();
    mem[c + CPU.irqs_off]!++; // *_irqsave
    if (spin) spin_lock(fa + FASYNC.fa_lock_spin, SITE_KILL_FASYNC);
    else read_lock(fa + FASYNC.fa_lock_rw, SITE_KILL_FASYNC);
    if (mem[fa + FASYNC.fa_file] !== 0) {
      // Don't send SIGURG to processes which have not set a queued signum: SIGURG has its own
      // default signalling mechanism.
      if (!(sig === SIGURG && mem[fa + FASYNC.signum] === 0)) send_sigio(fa, mem[fa + FASYNC.fa_fd]!, band);
    }
    if (spin) spin_unlock(fa + FASYNC.fa_lock_spin);
    else read_unlock(fa + FASYNC.fa_lock_rw);
    mem[c + CPU.irqs_off]!--;
    fa = mem[fa + FASYNC.fa_next]!;
  }
}

/** kill_fasync (fs/fcntl.c): may be called from task or interrupt context. */
export function kill_fasync(fa: number, sig: number, band: number): void {
  // First a quick test without locking: usually the list is empty.
  if (!fa) return;
  rcu_read_lock();
  kill_fasync_rcu(fa, sig, band);
  rcu_read_unlock();
}

/**
 * mm_update_next_owner (kernel/exit.c, CONFIG_MEMCG), as exit_mm runs it for a task whose mm has
 * other users: look for the new mm owner among the children, the siblings and then every process,
 * all under read_lock(&tasklist_lock) with interrupts enabled. The model has no mm: the walk visits
 * the same tasks and finds no owner (the long form of the search); each visit is a race window, as
 * the kernel's loop over a large task list is a long one.
 */
export function mm_update_next_owner(): number {
  const p = current;
  const tl = kg + G.tasklist_lock;
  read_lock(tl, SITE_MM_OWNER_SCAN);
  let visited = 0;
  // Search in the children.
  for (let c = mem[p + TASK.children]!; c !== 0 && visited < 4096; c = mem[c + TASK.sibling_next]!) {
    sched_hook(SITE_MM_OWNER_SCAN);
    visited++;
  }
  // Search in the siblings.
  const rp = mem[p + TASK.real_parent]!;
  if (rp) {
    for (let c = mem[rp + TASK.children]!; c !== 0 && visited < 4096; c = mem[c + TASK.sibling_next]!) {
      sched_hook(SITE_MM_OWNER_SCAN);
      visited++;
    }
  }
  // Search through everything else.
  const head = mem[kg + G.init_task]!;
  let g = head;
  if (g) {
    do {
      sched_hook(SITE_MM_OWNER_SCAN);
      visited++;
      g = mem[g + TASK.tasks_next]!;
    } while (g !== head && g !== 0 && visited < 4096);
  }
  read_unlock(tl);
  return visited;
}

/** SYS_RAISE_IRQ(cpu, vec, arg): a device raises an interrupt on `cpu` (-1: this CPU). */
function sys_raise_irq(cpu: number, vec: number, arg: number): number {
  const n = mem[kg + G.ncpus]!;
  const target = cpu < 0 ? this_cpu_id : cpu;
  if (target >= n) return -EINVAL;
  raise_irq(target, vec, arg, 1);
  return 0;
}

register_irq_handler(IRQV_KILL_FASYNC, (fa) => kill_fasync(fa, SIGIO, POLL_IN));
register_syscall(SYS_KILL_FASYNC, 'kill_fasync', (fa, sig, band) => {
  kill_fasync(fa, sig || SIGIO, band || POLL_IN);
  return 0;
});
register_syscall(SYS_MM_UPDATE_NEXT_OWNER, 'mm_update_next_owner', () => mm_update_next_owner());
register_syscall(SYS_RAISE_IRQ, 'raise_irq', (cpu, vec, arg) => sys_raise_irq(cpu, vec, arg));
