/**
 * cad_pid: the process that ctrl-alt-del signals (init/main.c, kernel/reboot.c), and its sysctl
 * /proc/sys/kernel/cad_pid (proc_do_cad_pid, kernel/sysctl.c). cad_pid holds a reference on its
 * struct pid: kernel_init_freeable() takes it on init's pid at boot, and a write of the sysctl
 * swaps in find_get_pid(nr) and puts the old one:
 *
 *      new_pid = find_get_pid(tmp);
 *      if (!new_pid)
 *              return -ESRCH;
 *      put_pid(xchg(&cad_pid, new_pid));
 *
 * Catalog entry 19 (0711f0d7050b, "pid: take a reference when initializing `cad_pid`"): before it
 * kernel_init_freeable() set cad_pid = task_pid(current) without get_pid (BUG_CAD_PID_NO_REF), so
 * the first write dropped a reference init's pid never had ("we decrement a reference we never
 * incremented, can therefore free the init task's struct pid early"). The kernel audit counts
 * cad_pid among a struct pid's references (src/kernel/audit.ts): the buggy boot leaves init's pid
 * one count short of its references, and a write moves the shortfall onto init's count.
 *
 * Catalog entry 22 (found by pidrace's checked build; no upstream report found): the read side,
 * `tmp_pid = pid_vnr(cad_pid)`, takes neither a reference nor rcu_read_lock, and put_pid frees a
 * struct pid at once when its count reaches 0 (no grace period: the pid cache is not
 * SLAB_TYPESAFE_BY_RCU). When cad_pid holds the last reference (the process it names was reaped),
 * a write's put_pid(xchg(&cad_pid, new_pid)) frees the pid a concurrent read has loaded and is
 * about to look at (pid->level in pid_nr_ns): a use-after-free. Read in proc_do_cad_pid as moved
 * to kernel/pid.c ("[PATCH 09/12] sysctl: move cad_pid into kernel/pid.c", Joel Granados,
 * 2025-05-09) and in kernel/sysctl.c copies before it. PROPOSAL_CAD_PID_SYNC_RCU is a fix of our
 * own, a design study: the read in an RCU read section, the write's put after synchronize_rcu.
 */
import { G, TASK } from '../mm/layout.js';
import { kg, mem } from '../mm/memory.js';
import { BUG_CAD_PID_NO_REF, PROPOSAL_CAD_PID_SYNC_RCU } from '../config/bugs.js';
import { current, SLEEP } from '../sched/core.js';
import { sched_hook } from '../sched/hook.js';
import { register_boot_init } from './boot.js';
import { register_syscall } from './entry.js';
import { EPERM, ESRCH } from './errno.js';
import { find_get_pid, get_pid, pid_vnr, put_pid } from './pid.js';
import { SYS_CAD_PID_READ, SYS_CAD_PID_WRITE } from './unistd.js';
import { rcu_read_lock, rcu_read_unlock, synchronize_rcu } from '../rcu/rcu.js';

/**
 * proc_do_cad_pid's read: between its load of cad_pid and pid_vnr's look at the pid (a named race
 * window: the code runs preemptible, so the host CPU may take an interrupt or be preempted there).
 */
export const SITE_CAD_PID_READ = 292;

/** cad_pid_write restart phases (TASK.restart_phase), PROPOSAL_CAD_PID_SYNC_RCU only. */
const CAD_WRITE_START = 0;
const CAD_WRITE_GP = 1;
/** TASK.restart slot: the old pid, put once the grace period has elapsed. */
const CW_OLD = 0;

function cad_pid_sync_rcu(): boolean {
  return (mem[kg + G.bug_switches]! & PROPOSAL_CAD_PID_SYNC_RCU) !== 0;
}

/** GLOBAL_ROOT_UID (the model's kuids are plain numbers). */
const GLOBAL_ROOT_UID = 0;

/**
 * kernel_init_freeable (init/main.c), the cad_pid line: `cad_pid = get_pid(task_pid(current));`
 * (current is init). Runs at boot after the init task exists (fork.ts's init_task_boot).
 */
function kernel_init_freeable_cad_pid(): void {
  const init = mem[kg + G.init_task]!;
  const pid = init ? mem[init + TASK.pid]! : 0;
  if (!pid) return;
  // Before 0711f0d7050b the pointer was stored without a reference of its own.
  mem[kg + G.cad_pid] = (mem[kg + G.bug_switches]! & BUG_CAD_PID_NO_REF) !== 0 ? pid : get_pid(pid);
}
register_boot_init(kernel_init_freeable_cad_pid);

/** The sysctl table's permission check (test_perm on mode 0600, owner GLOBAL_ROOT_UID): root only. */
function cad_pid_perm(): boolean {
  return mem[current + TASK.cred_uid] === GLOBAL_ROOT_UID;
}

/** proc_do_cad_pid, read: pid_vnr(cad_pid) (0 when cad_pid has no number in the reader's namespace). */
export function cad_pid_read(): number {
  if (!cad_pid_perm()) return -EPERM;
  if (cad_pid_sync_rcu()) {
    // The proposal: rcu_dereference pairs with the writer's xchg (a full barrier); the writer's
    // synchronize_rcu waits for this read section before it puts the pid we may have loaded.
    rcu_read_lock();
    const pid = Atomics.load(mem, kg + G.cad_pid);
    sched_hook(SITE_CAD_PID_READ);
    const nr = pid_vnr(pid);
    rcu_read_unlock();
    return nr;
  }
  // Today's kernel: a plain load, no reference, no RCU; a concurrent write may free the pid
  // before pid_vnr looks at it (catalog entry 22; the checked build reports the read of the freed
  // pid as KASAN does).
  const pid = mem[kg + G.cad_pid]!;
  sched_hook(SITE_CAD_PID_READ);
  return pid_vnr(pid);
}

/**
 * proc_do_cad_pid, write: find_get_pid(nr) in the writer's namespace (-ESRCH when there is none),
 * then put_pid(xchg(&cad_pid, new_pid)): the old pid loses the reference cad_pid held on it.
 * With PROPOSAL_CAD_PID_SYNC_RCU the put waits for a grace period (SLEEP: call again).
 */
export function cad_pid_write(nr: number): number {
  const t = current;
  if (mem[t + TASK.restart_phase] === CAD_WRITE_GP) return cad_pid_write_put(t);
  if (!cad_pid_perm()) return -EPERM;
  rcu_read_lock();
  const new_pid = find_get_pid(nr);
  rcu_read_unlock();
  if (!new_pid) return -ESRCH;
  // xchg: a full barrier; pairs with the reader's load (rcu_dereference in the proposal).
  const old = Atomics.exchange(mem, kg + G.cad_pid, new_pid);
  if (!cad_pid_sync_rcu()) {
    put_pid(old);
    return 0;
  }
  mem[t + TASK.restart + CW_OLD] = old;
  mem[t + TASK.restart_phase] = CAD_WRITE_GP;
  return cad_pid_write_put(t);
}

/** The proposal's second half: synchronize_rcu(), then put_pid(old). */
function cad_pid_write_put(t: number): number {
  if (synchronize_rcu() === SLEEP) return SLEEP;
  const old = mem[t + TASK.restart + CW_OLD]!;
  mem[t + TASK.restart + CW_OLD] = 0;
  mem[t + TASK.restart_phase] = CAD_WRITE_START;
  put_pid(old);
  return 0;
}

register_syscall(SYS_CAD_PID_READ, 'cad_pid_read', () => cad_pid_read());
register_syscall(SYS_CAD_PID_WRITE, 'cad_pid_write', (nr) => cad_pid_write(nr));
