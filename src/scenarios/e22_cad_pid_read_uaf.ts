/**
 * Catalog entry 22 (found by pidrace; no upstream report found): a read of
 * /proc/sys/kernel/cad_pid against a write. proc_do_cad_pid's read side is
 * `tmp_pid = pid_vnr(cad_pid)`: no reference and no rcu_read_lock. Its write side is
 * `put_pid(xchg(&cad_pid, new_pid))`, and put_pid frees the struct pid at once when the count
 * reaches 0 (kmem_cache_free; the pid cache is not SLAB_TYPESAFE_BY_RCU). Once the process cad_pid
 * names has been reaped, cad_pid holds the pid's last reference, so a write frees it while a
 * concurrent read that loaded the pointer is about to look at pid->level (pid_nr_ns): a
 * use-after-free, root only (the sysctl is mode 0600).
 *
 * Found by a 10-minute checked stress run (`pidrace stress --cpus 4 --duration 10m --seed 13
 * --check-guards`, session 14: "BUG: KASAN: slab-use-after-free in pid_nr_ns ... pid_vnr,
 * cad_pid_read", twice). The read side was checked in upstream text: kernel/sysctl.c copies
 * (2006-2025) and "[PATCH 09/12] sysctl: move cad_pid into kernel/pid.c" (Joel Granados,
 * 2025-05-09), which moves the function unchanged apart from proc_dointvec. No report, fix or
 * Fixes: tag for this race was found in the LKML, stable and syzkaller text searched; it was not
 * reproduced on a real kernel (this host's kernel has no KASAN). Today's kernel (no switch) is the
 * failing variant. The second variant is a fix of our own, a design study
 * (PROPOSAL_CAD_PID_SYNC_RCU): the read in an RCU read section, the write's put_pid after
 * synchronize_rcu.
 *
 * The detector is the checked build's poison check on every field access (KASAN in the kernel):
 * the entry runs on the checked build (Scenario.checkGuards).
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { SYS_CAD_PID_READ, SYS_CAD_PID_WRITE, SYS_EXIT, SYS_FORK, SYS_MEMBARRIER, SYS_WAIT4 } from '../kernel/unistd.js';
import { MEMBARRIER_CMD_GLOBAL } from '../kernel/task_work.js';
import { PROPOSAL_CAD_PID_SYNC_RCU } from '../config/bugs.js';
import { SITE_CAD_PID_READ } from '../kernel/reboot.js';
import { V_GUARD_USE_AFTER_FREE } from '../locking/violations.js';
import { SLAB_PID } from '../mm/memory.js';
import { guard_violation_stack } from '../detect/guard_report.js';
import { hex } from '../detect/waitfor.js';
import { halt, prog, repeat, start_init } from './build.js';
import type { CheckResult, RunView, Scenario } from './types.js';

/** init forks X first: X is pid 2 of init_pid_ns. */
const X_PID = 2;
/** R's reads of /proc/sys/kernel/cad_pid. */
const READS = 16;

function check_22(r: RunView): CheckResult {
  const pr = r.view.r.objects[SLAB_PID]!;
  const uaf = r.violations.find((x) => x.kind === V_GUARD_USE_AFTER_FREE && x.a >= pr.base && x.a < pr.base + pr.words);
  if (!uaf) return { matched: false, detail: `no use-after-free of a struct pid in the violation log (${r.violations.length} violations, run ${r.state})` };
  // The access is named by the stack the checked build saved with the report (a free-running run
  // is not frozen at the report: the reader may have exited and been reaped by the end).
  const trace = guard_violation_stack(r.view.m, r.view.r, uaf);
  const inRead = trace.includes('cad_pid_read');
  return {
    matched: inRead,
    detail: `${inRead ? 'the read of /proc/sys/kernel/cad_pid' : `an access from ${trace.join(' <- ') || 'an unknown stack'}`} (${trace.slice(0, 3).join(' <- ')}) looked at struct pid ${hex(uaf.a)} after a write of cad_pid put its last reference: put_pid(xchg(&cad_pid, new_pid)) freed the pid the read had loaded from cad_pid`,
  };
}

export const E22: Scenario = {
  id: '22',
  slug: 'cad-pid-read-uaf',
  title: 'a read of /proc/sys/kernel/cad_pid against a write: pid_vnr(cad_pid) with no reference or RCU, and the write\'s put_pid frees the pid',
  year: '2006-2025 (open; found by pidrace)',
  kind: 'found',
  commits: [
    {
      id: '', subject: 'sysctl: move cad_pid into kernel/pid.c (PATCH 09/12)', author: 'Joel Granados', year: 2025,
      role: 'related', status: 'partial', idStatus: 'unverified',
      note: 'a patch as posted to linux-fsdevel (2025-05-09), its merge not checked: it moves proc_do_cad_pid from kernel/sysctl.c to kernel/pid.c with the read `tmp_pid = pid_vnr(cad_pid)` and the write `put_pid(xchg(&cad_pid, new_pid))` unchanged (the racing pair); kernel/sysctl.c copies from 2006 on have the same two lines',
      source: 'find_string "pid_vnr(cad_pid)": ids 17237076142 (the patch), 1031976, 20352914292, 219018296 (kernel/sysctl.c copies)',
    },
    {
      id: '0711f0d7050b', subject: 'pid: take a reference when initializing `cad_pid`', author: 'Mark Rutland', year: 2021,
      role: 'related', status: 'verified',
      note: 'catalog entry 19: the boot-time reference; it left the read side as it was. No commit, report or Fixes: tag about the read racing a write was found (search of the issues and pages corpora for proc_do_cad_pid / cad_pid use-after-free, session 14)',
      source: 'as entry 19',
    },
  ],
  variants: [
    { name: 'today', bugs: 0, expect: 'violation', summary: 'today\'s kernel: the read loads cad_pid and looks at the pid with no reference and no RCU; a write puts and frees it' },
    { name: 'sync-rcu', bugs: PROPOSAL_CAD_PID_SYNC_RCU, expect: 'clean', summary: 'a fix of our own, not upstream: the read in rcu_read_lock with rcu_dereference, the write\'s put_pid after synchronize_rcu' },
  ],
  defaultVariant: 'today',
  detector: 'checked build: use-after-free of a poisoned object (KASAN)',
  ncpus: 2,
  checkGuards: true,
  interleaving: [
    'X (root) writes its own pid to /proc/sys/kernel/cad_pid and exits; init reaps it: cad_pid holds the last reference on X\'s struct pid',
    `R (root) reads /proc/sys/kernel/cad_pid: loads cad_pid (X's pid) and is preempted before pid_vnr (site ${SITE_CAD_PID_READ})`,
    'W (root) writes init\'s pid: put_pid(xchg(&cad_pid, init\'s pid)) drops the last reference, kmem_cache_free',
    'R: pid_vnr -> pid_nr_ns reads pid->level of the freed struct pid',
  ],
  expected: 'R reads a field of X\'s struct pid after W\'s put_pid freed it (use-after-free of a poisoned object)',
  pctDepth: 2,
  pctSteps: 200,
  build(m) {
    const x = prog(m, 'X', [[SYS_CAD_PID_WRITE, X_PID], [SYS_EXIT, 0]]);
    // R reads the sysctl a few times (cat in a loop): one of its reads straddles W's write.
    const rd = prog(m, 'R', [...repeat(0, [[SYS_CAD_PID_READ]], READS), [SYS_EXIT, 0]]);
    const w = prog(m, 'W', [[SYS_CAD_PID_WRITE, 1], [SYS_EXIT, 0]]);
    // init reaps X, then a grace period (membarrier) lets free_pid's delayed_put_pid run: from
    // there cad_pid's reference is the pid's last. Then R and W race.
    start_init(m, prog(m, 'init', [
      [SYS_FORK, 0, x, 0], [SYS_WAIT4, -1, 0], [SYS_MEMBARRIER, MEMBARRIER_CMD_GLOBAL],
      [SYS_FORK, 0, rd, 0], [SYS_FORK, 0, w, 0], [SYS_WAIT4, -1, 0], [SYS_WAIT4, -1, 0], halt,
    ]));
  },
  check: check_22,
};
