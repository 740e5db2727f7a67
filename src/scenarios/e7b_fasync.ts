/**
 * Catalog entry 7b: 7a107c0f55a3 "fasync: Fix deadlock between task-context and interrupt-context
 * kill_fasync()" (Kirill Tkhai, 2018). With fa_lock a spinlock (BUG_FASYNC_SPINLOCK) the qrwlock
 * rule of 7a does not help: the interrupt handler spins on a spinlock held by a task-context reader
 * that is queued behind the writer - three CPUs, the cycle of the commit message. Tasks and the
 * interrupt: src/scenarios/tasklist_irq_common.ts; kill_fasync: src/kernel/fasync.ts.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import { BUG_FASYNC_SPINLOCK } from '../config/bugs.js';
import { build_fasync, check_7b, COMMIT_FASYNC, COMMIT_QRWLOCK, IRQ } from './tasklist_irq_common.js';
import type { Scenario } from './types.js';

export const E7B: Scenario = {
  id: '7b',
  slug: 'fasync',
  title: 'kill_fasync in task and interrupt context: fa_lock spinlock vs tasklist_lock (three CPUs)',
  year: '2018',
  kind: 'upstream-bug',
  commits: [COMMIT_FASYNC, COMMIT_QRWLOCK],
  variants: [
    { name: 'spinlock', bugs: BUG_FASYNC_SPINLOCK, expect: 'deadlock', summary: 'fa_lock is a spinlock (before 7a107c0f55a3)' },
    { name: 'rwlock', bugs: 0, expect: 'clean', summary: 'fa_lock is an rwlock taken for read (7a107c0f55a3): the interrupt reader passes' },
  ],
  defaultVariant: 'spinlock',
  ncpus: 3,
  interleaving: [
    'task 1: kill_fasync: spin_lock_irqsave(&fa->fa_lock) -> send_sigio -> read_lock(&fown->lock) -> read_lock(&tasklist_lock)',
    'task 2: mm_update_next_owner: read_lock(&tasklist_lock); <IRQ> kill_fasync: spin_lock_irqsave(&fa->fa_lock)',
    'task 3: copy_process: write_lock_irq(&tasklist_lock)',
    "task 1 can't take the read lock: task 3 waits for it exclusively; task 2 holds it but can't take fa_lock",
  ],
  expected: 'task 1 (holds fa_lock) waits for task 3 (write_lock_irq tasklist_lock), task 3 for task 2 (holds tasklist_lock for read), task 2 in its interrupt for task 1 (fa_lock)',
  pctDepth: 4,
  pctSteps: 580,
  pctShare: 0.2,
  freeDelayPermille: 150,
  build(m, _v, mode) {
    build_fasync(m, 3, true, IRQ.permille, IRQ.count, mode);
  },
  check: check_7b,
};
