/**
 * The catalog of documented deadlocks and races (issue 6): each entry a Scenario (src/scenarios/
 * e*.ts) with its upstream commits and their verification status (docs/catalog-sources.md), its
 * variants behind named bug switches, and what each variant is expected to do.
 */
import '../kernel/index.js'; // the kernel image first: its modules rely on index.ts's import order
import type { Scenario } from './types.js';
import { E1 } from './e1_zap_rcu_tasks.js';
import { E2 } from './e2_kprobe_mutex.js';
import { E3 } from './e3_setns_fork.js';
import { E4 } from './e4_multithreaded_init.js';
import { E5 } from './e5_init_reaped_last.js';
import { E6 } from './e6_ptrace_dead_tracees.js';
import { E7A } from './e7a_qrwlock_irq_reader.js';
import { E7B } from './e7b_fasync.js';
import { E8 } from './e8_free_gp.js';
import { E9 } from './e9_alloc_pid_leak.js';
import { E10 } from './e10_zap_notify_signal.js';
import { E11 } from './e11_child_reaper_moved.js';
import { E12 } from './e12_clone_parent_exit_signal.js';
import { E13 } from './e13_pidfd_poll_exit_state.js';
import { E14 } from './e14_wait_dead_to_zombie.js';
import { E15 } from './e15_ptrace_reparented_thread.js';
import { E16 } from './e16_exec_traced_cred_guard.js';
import { E17 } from './e17_de_thread_ptrace_attach.js';
import { E18 } from './e18_wait_consider_reload.js';
import { E19 } from './e19_cad_pid_ref.js';
import { E20 } from './e20_pids_release.js';
import { E21 } from './e21_wait_zombie_leader_traced.js';
import { E22 } from './e22_cad_pid_read_uaf.js';

export const CATALOG: Scenario[] = [E1, E2, E3, E4, E5, E6, E7A, E7B, E8, E9, E10, E11, E12, E13, E14, E15, E16, E17, E18, E19, E20, E21, E22];

export function findScenario(idOrSlug: string): Scenario | undefined {
  const k = idOrSlug.trim().toLowerCase();
  return CATALOG.find((s) => s.id === k || s.slug === k);
}

/** For bench/controlled.ts: controlled time to first hit of an entry's default (buggy) variant. */
export { runScenarioFirstHit } from './measure.js';
