/**
 * The proc instance mounted at /proc, as far as catalog entry 8 needs it (fs/proc/root.c,
 * fs/proc/base.c of the 3.13 era): a proc superblock belongs to one pid namespace
 * (sb->s_fs_info, a reference taken at mount and dropped by proc_kill_sb), and a path walk in
 * RCU mode reaches that namespace through the mount and the superblock holding nothing but
 * rcu_read_lock (RCU'd vfsmounts, 48a066e72d97): proc_pid_permission reads the namespace's
 * hide_pid, proc_pid_lookup looks the pid up in it. Nothing else pins the namespace for the walker,
 * so the namespace must not be freed before a grace period after its last put: 1adfcb03e31b
 * ("pid_namespace: make freeing struct pid_namespace rcu-delayed"). BUG_FREE_WITHOUT_GP frees it
 * at the last put (src/kernel/pid_namespace.ts destroy_pid_namespace).
 *
 * The model has one mount namespace and one mount point: G.proc_mnt_ns is "the pid namespace of
 * the proc instance at /proc" (the mount published in the mount hash = the pointer published
 * with rcu_assign_pointer). umount -l unpublishes it and, being the last mntput, kills the
 * superblock at once (cleanup_mnt -> deactivate_super -> proc_kill_sb -> put_pid_ns).
 */
import { G, PIDNS } from '../mm/layout.js';
import { kg, mem } from '../mm/memory.js';
import { rcu_dereference_check, rcu_read_lock, rcu_read_unlock } from '../rcu/rcu.js';
import { current } from '../sched/core.js';
import { register_syscall } from './entry.js';
import { EBUSY, EINVAL, ENOENT } from './errno.js';
import { SYS_MOUNT_PROC, SYS_PROC_LOOKUP, SYS_UMOUNT_PROC } from './unistd.js';
import { find_pid_ns, pid_task, task_active_pid_ns } from './pid.js';
import { get_pid_ns, put_pid_ns } from './pid_namespace.js';
import { PIDTYPE_PID } from './pid_types.js';

/** Scheduling-hook sites of the RCU walk. */
export const SITE_PROC_WALK = 250; // path_init: rcu_read_lock, the mount and its superblock
export const SITE_PROC_PERMISSION = 251; // proc_pid_permission -> has_pid_permissions (nested rcu_read_lock)

/**
 * mount -t proc proc /proc (proc_mount + proc_fill_super): the superblock takes a reference on the
 * caller's active pid namespace; the mount is published for RCU walkers. EBUSY when a proc
 * instance is mounted already (the model has one mount point).
 */
export function proc_mount(): number {
  const ns = task_active_pid_ns(current);
  if (!ns) return -EINVAL;
  get_pid_ns(ns); // sb->s_fs_info = get_pid_ns(ns)
  // rcu_assign_pointer (a release store): the walker's rcu_dereference pairs with it.
  if (Atomics.compareExchange(mem, kg + G.proc_mnt_ns, 0, ns) !== 0) {
    put_pid_ns(ns);
    return -EBUSY;
  }
  return 0;
}

/**
 * umount -l /proc: unpublish the mount, then the last mntput kills the superblock:
 * proc_kill_sb -> put_pid_ns(sb->s_fs_info). Walkers already inside may still hold the pointer.
 */
export function proc_umount(): number {
  const ns = Atomics.exchange(mem, kg + G.proc_mnt_ns, 0);
  if (!ns) return -EINVAL;
  put_pid_ns(ns); // proc_kill_sb
  return 0;
}

/**
 * An RCU-mode path walk of /proc/NR (link_path_walk in LOOKUP_RCU: no reference on the mount, the
 * superblock or the namespace): proc_pid_permission reads ns->hide_pid (the model reads the
 * namespace's level, the word beside it) and proc_pid_lookup finds NR in the superblock's
 * namespace. Returns 0 when NR has a task, ENOENT otherwise (or with nothing mounted).
 */
export function proc_pid_lookup_rcu(nr: number): number {
  rcu_read_lock(SITE_PROC_WALK);
  const ns = Atomics.load(mem, kg + G.proc_mnt_ns); // rcu_dereference(mnt)->mnt_sb->s_fs_info
  if (!ns) {
    rcu_read_unlock();
    return -ENOENT;
  }
  rcu_read_lock(SITE_PROC_PERMISSION); // has_pid_permissions -> ptrace_may_access: rcu_read_lock
  rcu_dereference_check(ns, PIDNS.poison);
  void mem[ns + PIDNS.level]; // pid->hide_pid
  const pid = nr > 0 ? find_pid_ns(nr, ns) : 0;
  const task = pid ? pid_task(pid, PIDTYPE_PID) : 0;
  rcu_read_unlock();
  rcu_read_unlock();
  return task ? 0 : -ENOENT;
}

register_syscall(SYS_MOUNT_PROC, 'mount_proc', () => proc_mount());
register_syscall(SYS_UMOUNT_PROC, 'umount_proc', () => proc_umount());
register_syscall(SYS_PROC_LOOKUP, 'proc_pid_lookup', (nr) => proc_pid_lookup_rcu(nr));
