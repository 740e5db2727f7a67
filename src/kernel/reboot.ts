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
 */
import { G, TASK } from '../mm/layout.js';
import { kg, mem } from '../mm/memory.js';
import { BUG_CAD_PID_NO_REF } from '../config/bugs.js';
import { current } from '../sched/core.js';
import { register_boot_init } from './boot.js';
import { register_syscall } from './entry.js';
import { EPERM, ESRCH } from './errno.js';
import { find_get_pid, get_pid, pid_vnr, put_pid } from './pid.js';
import { SYS_CAD_PID_READ, SYS_CAD_PID_WRITE } from './unistd.js';
import { rcu_read_lock, rcu_read_unlock } from '../rcu/rcu.js';

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
  return pid_vnr(Atomics.load(mem, kg + G.cad_pid));
}

/**
 * proc_do_cad_pid, write: find_get_pid(nr) in the writer's namespace (-ESRCH when there is none),
 * then put_pid(xchg(&cad_pid, new_pid)): the old pid loses the reference cad_pid held on it.
 */
export function cad_pid_write(nr: number): number {
  if (!cad_pid_perm()) return -EPERM;
  rcu_read_lock();
  const new_pid = find_get_pid(nr);
  rcu_read_unlock();
  if (!new_pid) return -ESRCH;
  put_pid(Atomics.exchange(mem, kg + G.cad_pid, new_pid));
  return 0;
}

register_syscall(SYS_CAD_PID_READ, 'cad_pid_read', () => cad_pid_read());
register_syscall(SYS_CAD_PID_WRITE, 'cad_pid_write', (nr) => cad_pid_write(nr));
