/**
 * Catalog entry 8: struct pid_namespace freed without waiting for an RCU grace period. 1adfcb03e31b
 * ("pid_namespace: make freeing struct pid_namespace rcu-delayed", v3.13) made destroy_pid_namespace
 * free the namespace through call_rcu(delayed_free_pidns). Only the namespace: struct pid has been
 * freed through call_rcu(delayed_put_pid) since RCU pid lookups exist, and stays so in every
 * variant. BUG_FREE_WITHOUT_GP frees the namespace at its last put.
 *
 * The reader is the one the RCU-delayed free protects: a path walk of /proc in RCU mode
 * (src/kernel/proc_root.ts) reaches the proc superblock's pid namespace (sb->s_fs_info) holding
 * nothing but rcu_read_lock, reads it in proc_pid_permission and looks a pid up in it. X, the init
 * of a new namespace, mounts proc there and exits; init reaps X and lazily unmounts /proc: the last
 * of the namespace's references (the superblock's, or X's struct pid's, dropped after its grace
 * period) goes while R is inside the walk. With the grace period R's open section keeps the
 * namespace alive; without it R reads freed memory, which the model's per-object check (the poison
 * word, rcu_dereference_check) catches. The symptom is a use-after-free report, not a hang.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { PIDNS, POISON_FREED, TASK } from '../mm/layout.js';
import { SLAB_PIDNS } from '../mm/memory.js';
import { syscall_name } from '../kernel/entry.js';
import { SYS_EXIT, SYS_FORK, SYS_MOUNT_PROC, SYS_PROC_LOOKUP, SYS_UMOUNT_PROC, SYS_WAIT4 } from '../kernel/unistd.js';
import { BUG_FREE_WITHOUT_GP } from '../config/bugs.js';
import { CLONE_NEWPID } from '../kernel/sched_task.js';
import { SYS_SYNCHRONIZE_RCU } from '../kernel/torture.js';
import { V_RCU_USE_AFTER_FREE } from '../locking/violations.js';
import { hex, task_nspid } from '../detect/waitfor.js';
import { halt, prog, repeat, start_init } from './build.js';
import type { CheckResult, RunView, Scenario } from './types.js';

const LOOKUPS = 96;

function check_8(r: RunView): CheckResult {
  const uaf = r.violations.find((x) => x.kind === V_RCU_USE_AFTER_FREE);
  if (!uaf) return { matched: false, detail: `no RCU use-after-free in the violation log (${r.violations.length} violations, run ${r.state})` };
  const m = r.view.m;
  const rt = uaf.task;
  const rinfo = rt ? `${r.roles.get('R') === rt ? 'R' : 'task'}[pid ${task_nspid(m, rt).join(' ') || '?'}] in ${syscall_name(m[rt + TASK.ucall]!)}` : 'a reader';
  const nr = r.view.r.objects[SLAB_PIDNS]!;
  const isNs = uaf.a >= nr.base && uaf.a < nr.base + nr.words;
  return {
    matched: isNs && uaf.b > 0,
    detail: `${rinfo} dereferenced ${isNs ? `struct pid_namespace (level ${m[uaf.a + PIDNS.level]})` : 'an object that is not a pid namespace'} ${hex(uaf.a)} inside an RCU read-side section (nesting ${uaf.b}) after its last put freed it without a grace period (poison ${m[uaf.a + PIDNS.poison] === POISON_FREED ? 'FREED' : 'reused'})`,
  };
}

export const E8: Scenario = {
  id: '8',
  slug: 'free-without-gp',
  title: 'struct pid_namespace freed without an RCU grace period: an RCU-mode /proc walk reads the freed namespace',
  year: '2013',
  kind: 'upstream-bug',
  commits: [
    {
      id: '1adfcb03e31b', subject: 'pid_namespace: make freeing struct pid_namespace rcu-delayed', year: 2013, role: 'fix', status: 'partial',
      note: 'id, subject and version (3.13) verified, listed beside 48a066e72d97 "RCU\'d vfsmounts"; author (believed Al Viro) and message not read: the procfs RCU-walk reader is inferred from the series, not quoted',
      source: 'RHEL backport table (find_string id 70462999759)',
    },
  ],
  variants: [
    { name: 'no-grace-period', bugs: BUG_FREE_WITHOUT_GP, expect: 'violation', summary: 'destroy_pid_namespace frees the namespace at its last put (no call_rcu)' },
    { name: 'call_rcu', bugs: 0, expect: 'clean', summary: 'destroy_pid_namespace -> call_rcu(delayed_free_pidns)' },
  ],
  defaultVariant: 'no-grace-period',
  ncpus: 2,
  interleaving: [
    'X (init of a new pid namespace N) mounts proc: the superblock holds a reference on N; X exits',
    'R: path walk of /proc/1 in RCU mode: rcu_read_lock(); ns = sb->s_fs_info ... proc_pid_permission: rcu_read_lock(); ns->hide_pid',
    'init reaps X (its struct pid puts N after a grace period) and umount -l /proc: proc_kill_sb -> put_pid_ns(N)',
    'grace period: N\'s free waits for R\'s read side; none: N freed under R',
  ],
  expected: 'an RCU-mode /proc walk (proc_pid_permission -> ns->hide_pid) reads a struct pid_namespace freed at its last put without a grace period: use-after-free',
  pctDepth: 5,
  pctSteps: 200,
  build(m) {
    const x = prog(m, 'X', [[SYS_MOUNT_PROC], [SYS_EXIT, 0]]);
    const rd = prog(m, 'R', repeat(0, [[SYS_PROC_LOOKUP, 1]], LOOKUPS));
    // X is pid 2 (and pid 1 of its own namespace), R pid 3: init forks them in this order. A grace
    // period passes between the reap and the umount (X's struct pid has put N by then): the
    // superblock's reference is N's last.
    start_init(m, prog(m, 'init', [[SYS_FORK, CLONE_NEWPID, x, 0], [SYS_FORK, 0, rd, 0], [SYS_WAIT4, 2, 0], [SYS_SYNCHRONIZE_RCU], [SYS_UMOUNT_PROC], halt]));
  },
  check: check_8,
};
