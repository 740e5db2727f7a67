/**
 * What catalog entries 7a and 7b share: tasklist_lock readers in interrupt context.
 *
 * 7a - the queued rwlock's interrupt-reader rule (70af2f8a4f48, 2014): a reader in interrupt
 *      context ignores a writer that is only waiting. Without it (BUG_QRWLOCK_IRQ_FAIR), a CPU that
 *      holds read_lock(tasklist_lock) and takes an interrupt whose handler wants read_lock too
 *      queues behind the writer that waits for the very reader it interrupted: two CPUs, a cycle.
 * 7b - 7a107c0f55a3 "fasync: Fix deadlock between task-context and interrupt-context
 *      kill_fasync()" (2018): with fa_lock a spinlock (BUG_FASYNC_SPINLOCK) the rule does not help,
 *      because the interrupt handler now spins on a spinlock held by a task-context reader that is
 *      queued behind the writer: three CPUs, the cycle of the commit message.
 *
 * Tasks (the commit message's): task 1 runs kill_fasync from task context (a write to a tty),
 * task 2 runs exit_mm's mm_update_next_owner walk under read_lock(tasklist_lock) with interrupts
 * enabled, task 3 forks (copy_process: write_lock_irq(tasklist_lock)); every task then idles in
 * pause(), so copy_process is the only writer. A device interrupt on every CPU runs kill_fasync on
 * the same fasync entry, owned by init's process group and signalling SIGURG (ignored by default).
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import type { Machine } from '../machine.js';
import { CPU, FASYNC, G, TASK } from '../mm/layout.js';
import { kg, mem } from '../mm/memory.js';
import { SYS_FORK, SYS_KILL_FASYNC, SYS_MM_UPDATE_NEXT_OWNER } from '../kernel/unistd.js';
import { fasync_init, POLL_IN, SIGIO } from '../kernel/fasync.js';
import { SIGURG } from '../kernel/sched_task.js';
import { PIDTYPE_PGID } from '../kernel/pid.js';
import { IRQV_KILL_FASYNC, raise_irq } from '../sched/irq.js';
import { halt, prog, repeat, start_init } from './build.js';
import type { CheckResult, RunView } from './types.js';
import type { WaitNode } from '../detect/waitfor.js';

export const SHAPE = { iter: 4, freeIter: 40 };
/** The device interrupt: deliveries per CPU, and the chance per eligible hook (per mille). */
export const IRQ = { count: 12, permille: 80, freeCount: 200, freePermille: 30 };

function in_irq(r: RunView, n: WaitNode): boolean {
  return n.kind === 'cpu' && r.view.m[r.view.r.cpus.base + n.cpu! * r.view.r.cpus.stride + CPU.in_irq]! > 0;
}

const holds = (n: WaitNode, cls: string, mode?: string): boolean => n.holds.some((h) => h.cls === cls && (!mode || h.mode === mode));

/** Lay out tasks 1-3 and the interrupts. */
export function build_fasync(m: Machine, ncpus: number, withTask1: boolean, irqPermille: number, irqCount: number, mode: 'controlled' | 'free'): void {
  // Free-running, an attempt races for longer (the start-up of an attempt costs more than a loop).
  const iter = mode === 'free' ? SHAPE.freeIter : SHAPE.iter;
  if (mode === 'free') { irqCount = IRQ.freeCount; irqPermille = IRQ.freePermille; }
  m.attach();
  const fa = m.alloc(FASYNC.SIZE);
  const init = mem[kg + G.init_task]!;
  // F_SETOWN(-pgrp of init) + F_SETSIG(SIGURG) on the tty: send_sigio walks the group under
  // read_lock(&tasklist_lock).
  fasync_init(fa, 3, mem[init + TASK.pgrp]!, PIDTYPE_PGID, SIGURG);
  // Every task ends in pause() (halt): the only tasklist_lock writer is task 3's copy_process, as
  // in the commit message (exits would add exit_notify/release_task writers of the same kind).
  const child = prog(m, 'T3-child', [halt]);
  const t3 = prog(m, 'T3', [...repeat(0, [[SYS_FORK, 0, child, 0]], iter), halt]);
  const t2 = prog(m, 'T2', [...repeat(0, [[SYS_MM_UPDATE_NEXT_OWNER]], iter + 1), halt]);
  const t1 = prog(m, 'T1', [...repeat(0, [[SYS_KILL_FASYNC, fa, SIGIO, POLL_IN]], iter), halt]);
  const forks: number[][] = [[SYS_FORK, 0, t3, 0], [SYS_FORK, 0, t2, 0]];
  if (withTask1) forks.push([SYS_FORK, 0, t1, 0]);
  start_init(m, prog(m, 'init', [...forks, halt]));
  // A device interrupt line on every CPU: kill_fasync(fa, SIGIO, POLL_IN) from its handler.
  for (let i = 0; i < ncpus; i++) raise_irq(i, IRQV_KILL_FASYNC, fa, irqCount, irqPermille);
}

/** 7a's cycle: a CPU in an interrupt queued for read behind a writer that waits for its task's read lock. */
export function check_7a(r: RunView): CheckResult {
  const g = r.graph;
  if (!g) return { matched: false, detail: 'no wait-for graph (the run did not block)' };
  for (const c of g.cycles) {
    const nodes = c.map((k) => g.nodes.find((n) => n.key === k)!);
    const irqReader = nodes.find((n) => in_irq(r, n) && /read_lock \(in irq\) on tasklist_lock/.test(n.waiting) && holds(n, 'tasklist_lock', 'read'));
    const writer = nodes.find((n) => /write_lock on tasklist_lock/.test(n.waiting));
    if (irqReader && writer && nodes.length === 2) {
      return {
        matched: true, keys: c,
        detail: `${irqReader.task?.name ?? '?'}'s CPU holds tasklist_lock for read and its interrupt (kill_fasync -> send_sigio) queues read_lock behind ${writer.task?.name ?? '?'}'s waiting write_lock_irq, which waits for that read lock (70af2f8a4f48's rule missing)`,
      };
    }
  }
  return { matched: false, detail: `no interrupt-reader/writer cycle on tasklist_lock (${g.cycles.length} cycles)` };
}

/** 7b's cycle: fa_lock holder queued behind the writer, writer waits for the interrupted reader, its interrupt spins on fa_lock. */
export function check_7b(r: RunView): CheckResult {
  const g = r.graph;
  if (!g) return { matched: false, detail: 'no wait-for graph (the run did not block)' };
  for (const c of g.cycles) {
    const nodes = c.map((k) => g.nodes.find((n) => n.key === k)!);
    const t1 = nodes.find((n) => !in_irq(r, n) && /read_lock on tasklist_lock/.test(n.waiting) && holds(n, '&new->fa_lock', 'spin'));
    const t3 = nodes.find((n) => /write_lock on tasklist_lock/.test(n.waiting));
    const t2 = nodes.find((n) => in_irq(r, n) && /spinning on &new->fa_lock/.test(n.waiting) && holds(n, 'tasklist_lock', 'read'));
    if (t1 && t2 && t3 && nodes.length === 3) {
      const nm = (n: WaitNode): string => `${n.task?.name ?? '?'} (${n.task?.syscall || 'kernel'})`;
      return {
        matched: true, keys: c,
        detail: `task 1 ${nm(t1)} holds fa_lock and queues read_lock(tasklist_lock) behind task 3 ${nm(t3)}'s write_lock_irq, which waits for task 2 ${nm(t2)}'s read lock; task 2's interrupt spins on fa_lock (7a107c0f55a3)`,
      };
    }
  }
  return { matched: false, detail: `no fa_lock/tasklist_lock three-CPU cycle (${g.cycles.length} cycles)` };
}

export const COMMIT_QRWLOCK = {
  id: '70af2f8a4f48', subject: "locking/rwlocks: Introduce 'qrwlocks' - fair, queued rwlocks", author: 'Waiman Long', year: 2014,
  role: 'related' as const, status: 'verified' as const,
  note: 'the design with the interrupt-reader rule (in_interrupt() readers ignore a waiting writer)',
  source: 'Fixes: tag of Eric Dumazet\'s 2022 RFC (find_string id 17067952509) and a RHEL backport table (id 70507768491)',
};
/** Eric Dumazet's RFC removing the interrupt-reader rule (not merged): entry 7a studies it. */
export const COMMIT_RWLOCK_RFC = {
  id: '', subject: '[PATCH] locking/rwlocks: do not starve writers (RFC, not merged)', author: 'Eric Dumazet', year: 2022,
  role: 'report' as const, status: 'verified' as const,
  note: 'posted 2022-06-17, Message-Id <20220617091039.2257083-1-eric.dumazet@gmail.com>, removes the in_interrupt() branch of queued_read_lock_slowpath (soft lockups of writers under softirq readers); Peter Zijlstra: "This is known to break tasklist_lock." Not merged: no commit id',
  source: 'LKML mail (find_string id 17067952509: message and diff); Peter Zijlstra\'s reply (id 17582940035)',
};
export const COMMIT_FASYNC = {
  id: '7a107c0f55a3', subject: 'fasync: Fix deadlock between task-context and interrupt-context kill_fasync()', author: 'Kirill Tkhai', year: 2018,
  role: 'fix' as const, status: 'verified' as const, note: 'message: the three-task interleaving; fa_lock becomes an rwlock',
  source: 'gitiles mirror commit page gerrit-public.fairphone.software kernel/msm-5.4 7a107c0f55a3b4c6f84a4323df5610360bde1684 (docs/catalog-sources.md 7b)',
};
