/**
 * Catalog entry 10: zap_pid_ns_processes busy-loops with TIF_NOTIFY_SIGNAL set (7fea700e04bd,
 * "zap_pid_ns_processes: clear TIF_NOTIFY_SIGNAL along with TIF_SIGPENDING", Oleg Nesterov, 2024;
 * Fixes: 12db8b690010 "entry: Add support for TIF_NOTIFY_SIGNAL"). kernel_wait4 returns -EINTR
 * (here -ERESTARTSYS) at once while signal_pending() is true; zap clears TIF_SIGPENDING before each
 * call, but a TIF_NOTIFY_SIGNAL set by task_work_add(TWA_SIGNAL) (io_uring) before the reaper's
 * exit_task_work stays set: the loop never sleeps. The reaper's CPU then never passes a quiescent
 * state; a child of the namespace that sits in an uninterruptible synchronize_rcu
 * (membarrier(MEMBARRIER_CMD_GLOBAL)) can never finish, so it never dies of zap's SIGKILL, and the
 * loop never ends: an RCU CPU stall and a soft lockup, which the generic stall detector
 * (src/detect/stall.ts) reports from the model's state.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_EXIT, SYS_FORK, SYS_GETPID, SYS_MEMBARRIER, SYS_PAUSE, SYS_TASK_WORK_ADD, SYS_UNSHARE, SYS_WAIT4 } from '../kernel/unistd.js';
import { BUG_ZAP_KEEPS_NOTIFY_SIGNAL } from '../config/bugs.js';
import { CLONE_NEWPID } from '../kernel/sched_task.js';
import { MEMBARRIER_CMD_GLOBAL } from '../kernel/task_work.js';
import { CPU, G } from '../mm/layout.js';
import { init_program, prog, repeat, start_init } from './build.js';
import type { CheckResult, RunView, Scenario } from './types.js';

/** Task-work submissions Q makes (one landing inside R's do_exit before exit_notify is enough). */
const SUBMITS = 60;
/** Grace periods X asks for (it must still be in one when the zap starts). */
const BARRIERS = 40;

function check_10(r: RunView): CheckResult {
  if (!r.stalls.length) return { matched: false, detail: `no stall report (run ${r.state})` };
  const rt = r.roles.get('R');
  const v = r.view;
  const cpuOfR = [...Array(v.m[v.kg + G.ncpus] ?? 0).keys()].find((i) => v.m[v.r.cpus.base + i * v.r.cpus.stride + CPU.curr] === rt);
  const rStalls = cpuOfR !== undefined && r.stalls.some((l) => l.includes(`soft lockup - CPU#${cpuOfR} `)) && r.stalls.some((l) => l.startsWith('rcu: INFO: rcu_preempt detected stalls'));
  return {
    matched: !!rStalls,
    detail: rStalls
      ? `CPU#${cpuOfR} runs R (the namespace's reaper) in zap_pid_ns_processes' kernel_wait4 loop with TIF_NOTIFY_SIGNAL set: soft lockup, and the grace period X's membarrier waits for cannot end (RCU CPU stall)`
      : `a stall, but not R's zap loop: ${r.stalls[0]}`,
  };
}

export const E10: Scenario = {
  id: '10',
  slug: 'zap-notify-signal',
  title: 'zap_pid_ns_processes busy-loops in kernel_wait4 with TIF_NOTIFY_SIGNAL set: RCU stall and soft lockup',
  year: '2024',
  kind: 'upstream-bug',
  commits: [
    {
      id: '7fea700e04bd', subject: 'zap_pid_ns_processes: clear TIF_NOTIFY_SIGNAL along with TIF_SIGPENDING', author: 'Oleg Nesterov', year: 2024,
      role: 'fix', status: 'verified',
      note: 'message: kernel_wait4() returns -EINTR while signal_pending(); clearing TIF_SIGPENDING is not enough; Reported-by Rachel Menge',
      source: 'stable mails "[ Upstream commit 7fea700e04bd3f424c2d836e98425782f97b494e ]" (find_string ids 9675900836, 8962232277), mainline revlist (id 65885856531)',
    },
    {
      id: '12db8b690010', subject: 'entry: Add support for TIF_NOTIFY_SIGNAL', author: 'Jens Axboe', year: 2020,
      role: 'bug', status: 'partial', note: 'id and subject from the Fixes: tag of 7fea700e04bd; the commit itself was not read',
      source: 'the Fixes: tag quoted in the stable mails of 7fea700e04bd',
    },
  ],
  variants: [
    { name: 'keeps-notify-signal', bugs: BUG_ZAP_KEEPS_NOTIFY_SIGNAL, expect: 'stall', summary: 'the kernel_wait4 loop clears TIF_SIGPENDING only' },
    { name: 'clears-notify-signal', bugs: 0, expect: 'clean', summary: '7fea700e04bd: clear_thread_flag(TIF_NOTIFY_SIGNAL) too; the loop sleeps in kernel_wait4' },
  ],
  defaultVariant: 'keeps-notify-signal',
  ncpus: 2,
  interleaving: [
    'R (init of a new namespace) forks X; X: membarrier(MEMBARRIER_CMD_GLOBAL) -> synchronize_rcu (D state), again and again',
    'R forks Q (completing R\'s io_uring requests: task_work_add(R, TWA_SIGNAL) again and again) and exits; one lands inside do_exit, before exit_task_work: TIF_NOTIFY_SIGNAL stays set',
    'R: zap_pid_ns_processes kills X (it sleeps uninterruptibly: the kill waits) and loops: kernel_wait4 -> -ERESTARTSYS at once (signal_pending)',
    'R never sleeps: its CPU reports no quiescent state, X\'s grace period never ends, X never dies: RCU stall + soft lockup',
  ],
  expected: 'R spins in zap_pid_ns_processes\' kernel_wait4 loop (TIF_NOTIFY_SIGNAL never cleared): "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks" and "watchdog: BUG: soft lockup" for its CPU',
  pctDepth: 3,
  pctSteps: 400,
  // Clean runs take at most ~350 decisions; a stalled run ends at 64 x 800 hooks, past the stall bound.
  maxDecisions: 800,
  stallHooks: 20_000,
  build(m) {
    const x = prog(m, 'X', [...repeat(0, [[SYS_MEMBARRIER, MEMBARRIER_CMD_GLOBAL]], BARRIERS), [SYS_PAUSE]]);
    // Q completes R's io_uring requests: task work for R (pid 1 of the namespace), again and again.
    const q = prog(m, 'Q', [...repeat(0, [[SYS_TASK_WORK_ADD, 1]], SUBMITS), [SYS_EXIT, 0]]);
    const r = prog(m, 'R', [[SYS_FORK, 0, x, 0], [SYS_FORK, 0, q, 0], [SYS_GETPID], [SYS_EXIT, 0]]);
    const p = prog(m, 'P', [[SYS_UNSHARE, CLONE_NEWPID], [SYS_FORK, 0, r, 0], [SYS_WAIT4, -1, 0], [SYS_EXIT, 0]]);
    start_init(m, prog(m, 'init', init_program([p], -1)));
  },
  check: check_10,
};
