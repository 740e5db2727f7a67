/**
 * Catalog entry 21: WSTOPPED|WCONTINUED of the real parent vs a zombie group leader traced by
 * another process (7c733eb3eac0, "wait: WSTOPPED|WCONTINUED doesn't work if a zombie leader is
 * traced by another process", Oleg Nesterov, 2014). "Even if the main thread is dead the process
 * still can stop/continue. However, if the leader is ptraced wait_consider_task(ptrace => false)
 * always skips wait_task_stopped/wait_task_continued, so WSTOPPED or WCONTINUED can never work for
 * the natural parent in this case. Move the "A zombie ptracee is only visible to its ptracer"
 * check into the "if (!delay_group_leader(p))" block." The commit's test case hangs in
 * waitpid(WSTOPPED): "Without this patch it hangs in waitpid(WSTOPPED), wait_task_stopped() is
 * never called."
 *
 * The program is that test case: M forks L; L forks a tracer T, which attaches to L (its parent)
 * and waits; L clones a thread H and exits alone (a zombie leader, traced by T); H raises SIGSTOP
 * (a group stop of L's process, notified to M) and later exit_group(0x13). M waits with WUNTRACED,
 * sends SIGCONT, waits with WCONTINUED, then reaps. The verdict is do_wait's lost-report check
 * (V_LOST_WAKEUP: M goes to sleep after its scan passed over the stop it asked for, a hang found as
 * it starts), else the generic wait-for graph's: M asleep in do_wait with no live child to wait for
 * while its child's group is stopped - blocked, no waker (a hang). The sleeps of the test case that order the steps (attach before the leader
 * exits, the stop after it) are left to the schedule: the search finds the orders where they hold.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_EXIT, SYS_EXIT_GROUP, SYS_FORK, SYS_GETPID, SYS_KILL, SYS_PTRACE, SYS_WAIT4 } from '../kernel/unistd.js';
import { BUG_WAIT_ZOMBIE_LEADER_TRACED } from '../config/bugs.js';
import { CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, EXIT_ZOMBIE, SIGCONT, SIGSTOP, SIGNAL_STOP_STOPPED, WCONTINUED, WUNTRACED } from '../kernel/sched_task.js';
import { PTRACE_ATTACH } from '../kernel/ptrace.js';
import { SIG, TASK } from '../mm/layout.js';
import { V_LOST_WAKEUP } from '../locking/violations.js';
import { halt, prog, repeat, start_init } from './build.js';
import { nodeOfRole, type CheckResult, type RunView, type Scenario } from './types.js';

/** init is pid 1, M pid 2, L pid 3 (M's child), T pid 4 (L's first child). */
const L_PID = 3;

function check_21(r: RunView): CheckResult {
  // do_wait's lost-report check (src/kernel/exit.ts stop_report_pending): M went to sleep after its
  // scan passed over L's stop - the hang, found as it starts.
  const mt = r.roles.get('M');
  const lost = mt ? r.violations.find((x) => x.kind === V_LOST_WAKEUP && x.a === mt && x.c === r.roles.get('L')) : undefined;
  if (lost) {
    return {
      matched: true,
      detail: 'M went to sleep in waitpid(WUNTRACED) past the stop of its child\'s process: the zombie leader L is traced by T, and wait_consider_task returned before wait_task_stopped ("a zombie ptracee is only visible to its ptracer", 7c733eb3eac0)',
    };
  }
  const g = r.graph;
  const n = nodeOfRole(r, 'M');
  if (!g || !n?.task || n.task.wchan !== 'do_wait') return { matched: false, detail: `M is not asleep in do_wait (run ${r.state})` };
  const m = r.view.m;
  const l = r.roles.get('L')!;
  // M's wait may lead only to L's other threads, stopped (the graph's do_wait edges for a zombie
  // leader go to the threads it waits to be released): a chain that ends at the stop M's
  // WUNTRACED should have reported, nothing blocked.
  const stoppedThreadOfL = (key: string): boolean => {
    const x = g.nodes.find((y) => y.key === key);
    return !!x?.task && !x.blocked && x.task.addr !== l && m[x.task.addr + TASK.signal] === m[l + TASK.signal] && x.waiting.startsWith('stopped');
  };
  if (!g.blocked.includes(n.key) || g.edges.some((e) => e.from === n.key && !stoppedThreadOfL(e.to))) return { matched: false, detail: 'M sleeps in do_wait but has a child the graph waits for' };
  if (m[l + TASK.exit_state] !== EXIT_ZOMBIE || m[l + TASK.ptrace] === 0) return { matched: false, detail: 'L is not a traced zombie leader' };
  const s = m[l + TASK.signal]!;
  if ((m[s + SIG.flags]! & SIGNAL_STOP_STOPPED) === 0) return { matched: false, detail: 'L\'s process is not stopped: nothing for WUNTRACED to report' };
  return {
    matched: true,
    detail: 'M sleeps in waitpid(WUNTRACED) while its child\'s process is stopped: the zombie leader L is traced by T, and wait_consider_task returned before wait_task_stopped ("a zombie ptracee is only visible to its ptracer", 7c733eb3eac0)',
    keys: [n.key],
  };
}

export const E21: Scenario = {
  id: '21',
  slug: 'wait-zombie-leader-traced',
  title: 'WSTOPPED|WCONTINUED vs a zombie group leader traced by another process: the real parent\'s waitpid(WUNTRACED) never sees the stop',
  year: '2014',
  kind: 'upstream-bug',
  commits: [
    {
      id: '7c733eb3eac0', subject: 'wait: WSTOPPED|WCONTINUED doesn\'t work if a zombie leader is traced by another process', author: 'Oleg Nesterov', year: 2014,
      role: 'fix', status: 'verified',
      note: 'full id 7c733eb3eac0e3d091aaf37c183d2175eeebfb2b, subject, message and test case on two commit pages; the author and release (3.15) in the 3.15 shortlog ("Oleg Nesterov (10):"); the diff was not read (the page excerpts end in the message)',
      source: 'commit pages nv-tegra.nvidia.com gitiles linux-4.4 +/7c733eb3eac0...^!/kernel/exit.c and infradead.org users/willy/pagecache.git commitdiff (pages search); 3.15 shortlog (find_string id 45497844782)',
    },
  ],
  variants: [
    { name: 'zombie-ptracee-first', bugs: BUG_WAIT_ZOMBIE_LEADER_TRACED, expect: 'hang', summary: 'before 7c733eb3eac0: a traced zombie is skipped by its real parent before the delay_group_leader test' },
    { name: 'inside-delay-check', bugs: 0, expect: 'clean', summary: '7c733eb3eac0: the check only for a zombie that can be reaped (!delay_group_leader); the stop is reported' },
  ],
  defaultVariant: 'zombie-ptracee-first',
  detector: 'wait-for graph: blocked, no waker',
  ncpus: 2,
  interleaving: [
    'M forks L; L forks T; T: ptrace(PTRACE_ATTACH, L), then waits for its tracee',
    'L clones the thread H and exits alone: a zombie leader, traced by T (delay_group_leader)',
    'H: kill(L, SIGSTOP): the group stops (H), M is notified (CLD_STOPPED)',
    'M: waitpid(-1, WUNTRACED): wait_consider_task(L): a zombie ptracee, "only visible to its ptracer": return 0 before wait_task_stopped; M sleeps for good',
  ],
  expected: 'M asleep in waitpid(WUNTRACED) with nothing the graph can wait for, while its child\'s process is stopped and its zombie leader is traced by T',
  pctDepth: 3,
  pctSteps: 300,
  build(m) {
    // H: let L exit first (a few calls), stop the group, then exit_group(0x13) once continued.
    const h = prog(m, 'H', [[SYS_GETPID], [SYS_GETPID], [SYS_GETPID], [SYS_KILL, L_PID, SIGSTOP], [SYS_EXIT_GROUP, 0x13]]);
    // T: attach to L (pid 3), then wait for its tracee until ECHILD (the test's while (wait(NULL) > 0)).
    const t = prog(m, 'T', [[SYS_PTRACE, PTRACE_ATTACH, L_PID], ...repeat(1, [[SYS_WAIT4, -1, 0]], 3), [SYS_EXIT, 0]]);
    // L: fork T, give it time to attach, create H, exit alone (pthread_exit).
    const l = prog(m, 'L', [[SYS_FORK, 0, t, 0], [SYS_GETPID], [SYS_GETPID], [SYS_FORK, CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, h, 0], [SYS_EXIT, 0]]);
    const mm = prog(m, 'M', [
      [SYS_FORK, 0, l, 0],
      [SYS_WAIT4, -1, WUNTRACED], [SYS_KILL, L_PID, SIGCONT], [SYS_WAIT4, -1, WCONTINUED], [SYS_WAIT4, -1, 0],
      [SYS_EXIT, 0],
    ]);
    start_init(m, prog(m, 'init', [[SYS_FORK, 0, mm, 0], ...repeat(1, [[SYS_WAIT4, -1, 0]], 3), halt]));
  },
  check: check_21,
};
