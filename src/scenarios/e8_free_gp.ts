/**
 * Catalog entry 8: a struct pid (and the pid namespace it pins) freed without waiting for an RCU
 * grace period. 1adfcb03e31b ("pid_namespace: make freeing struct pid_namespace rcu-delayed",
 * v3.13) made the namespace's free RCU-delayed; struct pid has been freed through
 * call_rcu(delayed_put_pid) since RCU pid lookups exist. BUG_FREE_WITHOUT_GP frees both at once.
 *
 * The reader is kill(2): kill_something_info looks the pid up under rcu_read_lock (find_vpid)
 * and kill_pid_info dereferences it (pid_task) inside a nested read-side section; X, in its own
 * pid namespace, exits and init reaps it (release_task -> free_pid) in between. With the grace
 * period the reader's open section keeps the pid alive; without it the reader dereferences freed
 * memory, which the model's per-object check (the poison word, rcu_dereference_check) catches.
 * The symptom is a use-after-free report, not a hang.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { PID, POISON_FREED, TASK, UPID_NR, UPID_WORDS } from '../mm/layout.js';
import { SLAB_PID } from '../mm/memory.js';
import { syscall_name } from '../kernel/entry.js';
import { SYS_EXIT, SYS_FORK, SYS_KILL, SYS_WAIT4 } from '../kernel/syscalls.js';
import { BUG_FREE_WITHOUT_GP } from '../kernel/bugs.js';
import { CLONE_NEWPID } from '../kernel/sched_task.js';
import { V_RCU_USE_AFTER_FREE } from '../locking/violations.js';
import { hex, task_nspid } from '../detect/waitfor.js';
import { halt, prog, repeat, start_init } from './build.js';
import type { CheckResult, RunView, Scenario } from './types.js';

const KILLS = 16;

function check_8(r: RunView): CheckResult {
  const uaf = r.violations.find((x) => x.kind === V_RCU_USE_AFTER_FREE);
  if (!uaf) return { matched: false, detail: `no RCU use-after-free in the violation log (${r.violations.length} violations, run ${r.state})` };
  const m = r.view.m;
  const rt = uaf.task;
  const rinfo = rt ? `${r.roles.get('R') === rt ? 'R' : 'task'}[pid ${task_nspid(m, rt).join(' ') || '?'}] in ${syscall_name(m[rt + TASK.ucall]!)}` : 'a reader';
  const pr = r.view.r.objects[SLAB_PID]!;
  const isPid = uaf.a >= pr.base && uaf.a < pr.base + pr.words;
  // The freed struct pid still holds its numbers (the free writes only the poison and the free link).
  const lvl = isPid ? m[uaf.a + PID.level]! : -1;
  const nums = isPid && lvl >= 0 && lvl < 8 ? Array.from({ length: lvl + 1 }, (_, i) => m[uaf.a + PID.SIZE + i * UPID_WORDS + UPID_NR]!) : [];
  const x = r.roles.get('X');
  const whose = x === undefined && nums.length ? ` (X's: NSpid ${nums.join(' ')})` : nums.length ? ` (NSpid ${nums.join(' ')})` : '';
  return {
    matched: isPid && uaf.b > 0,
    detail: `${rinfo} dereferenced ${isPid ? 'struct pid' : 'an object'} ${hex(uaf.a)}${whose} inside an RCU read-side section (nesting ${uaf.b}) after free_pid freed it without a grace period (poison ${m[uaf.a + PID.poison] === POISON_FREED ? 'FREED' : 'reused'})`,
  };
}

export const E8: Scenario = {
  id: '8',
  slug: 'free-without-gp',
  title: 'struct pid / pid_namespace freed without an RCU grace period: an RCU reader sees freed memory',
  year: '2013',
  commits: [
    {
      id: '1adfcb03e31b', subject: 'pid_namespace: make freeing struct pid_namespace rcu-delayed', year: 2013, role: 'fix', status: 'partial',
      note: 'id, subject and version (3.13) verified in a RHEL backport table; author (believed Al Viro) and message not read',
    },
  ],
  variants: [
    { name: 'no-grace-period', bugs: BUG_FREE_WITHOUT_GP, expect: 'violation', summary: 'free_pid and destroy_pid_namespace free at once (no call_rcu)' },
    { name: 'call_rcu', bugs: 0, expect: 'clean', summary: 'free_pid -> call_rcu(delayed_put_pid), destroy_pid_namespace -> call_rcu(delayed_free_pidns)' },
  ],
  defaultVariant: 'no-grace-period',
  ncpus: 2,
  interleaving: [
    'R: kill(X, 0): rcu_read_lock(); pid = find_vpid(X) ... kill_pid_info: rcu_read_lock(); pid_task(pid)',
    'X (init of its own pid namespace) exits; init reaps it: release_task -> free_pid(pid) -> last put',
    'grace period: the free waits for R\'s read side; none: pid (and X\'s pid namespace) freed under R',
  ],
  expected: 'an RCU reader (kill -> find_vpid -> pid_task) dereferences a struct pid freed by free_pid without a grace period: use-after-free',
  pctDepth: 5,
  pctSteps: 200,
  build(m) {
    const x = prog(m, 'X', [[SYS_EXIT, 0]]);
    const rd = prog(m, 'R', repeat(0, [[SYS_KILL, 2, 0]], KILLS));
    // X is pid 2 (and pid 1 of its own namespace), R pid 3: init forks them in this order.
    start_init(m, prog(m, 'init', [[SYS_FORK, CLONE_NEWPID, x, 0], [SYS_FORK, 0, rd, 0], [SYS_WAIT4, 2, 0], halt]));
  },
  check: check_8,
};
