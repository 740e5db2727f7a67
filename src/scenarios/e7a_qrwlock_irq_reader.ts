/**
 * Catalog entry 7a, a DESIGN STUDY (not an upstream bug): the queued rwlock's interrupt-reader rule
 * (70af2f8a4f48, 2014) and Eric Dumazet's 2022 RFC "locking/rwlocks: do not starve writers", which
 * removed it and was not merged ("This is known to break tasklist_lock", Peter Zijlstra). A reader in
 * interrupt context ignores a writer that is only waiting. Without the rule (BUG_QRWLOCK_IRQ_FAIR) a
 * CPU that holds read_lock(tasklist_lock) and takes an interrupt whose handler wants read_lock too
 * queues behind the writer that waits for the very reader it interrupted: two CPUs, a cycle. Tasks
 * and the interrupt: src/scenarios/tasklist_irq_common.ts.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { BUG_QRWLOCK_IRQ_FAIR } from '../config/bugs.js';
import { build_fasync, check_7a, COMMIT_QRWLOCK, COMMIT_RWLOCK_RFC, IRQ } from './tasklist_irq_common.js';
import type { Scenario } from './types.js';

export const E7A: Scenario = {
  id: '7a',
  slug: 'qrwlock-irq-reader',
  title: 'design study: qrwlock without the interrupt-reader rule (the unmerged 2022 RFC) deadlocks tasklist_lock',
  year: '2014/2022',
  kind: 'design-study',
  commits: [COMMIT_RWLOCK_RFC, COMMIT_QRWLOCK],
  variants: [
    { name: 'irq-fair', bugs: BUG_QRWLOCK_IRQ_FAIR | 0, expect: 'deadlock', summary: 'the 2022 RFC applied: interrupt readers queue behind a waiting writer like task-context readers (no in_interrupt() rule)' },
    { name: 'qrwlock', bugs: 0, expect: 'clean', summary: 'queued rwlock as designed: an interrupt reader waits only for a writer that holds the lock' },
  ],
  defaultVariant: 'irq-fair',
  ncpus: 2,
  interleaving: [
    'CPU0: task 2 read_lock(&tasklist_lock) (mm_update_next_owner, interrupts on)',
    'CPU1: task 3 write_lock_irq(&tasklist_lock) (copy_process): readers present, sets _QW_WAITING and waits',
    'CPU0: <IRQ> kill_fasync -> send_sigio -> read_lock(&tasklist_lock): a writer is waiting',
    'rule on: the interrupt reader takes the lock at once; rule off: it queues behind CPU1, which waits for CPU0',
  ],
  expected: "CPU(task 2, in an interrupt) waits for task 3's queued write_lock_irq(tasklist_lock), which waits for task 2's read lock",
  pctDepth: 3,
  pctSteps: 370,
  pctShare: 0.2,
  freeDelayPermille: 150,
  build(m, _v, mode) {
    build_fasync(m, 2, false, IRQ.permille, IRQ.count, mode);
  },
  check: check_7a,
};
