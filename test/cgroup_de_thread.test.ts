/**
 * A cgroup.procs write (src/kernel/cgroup_pids.ts cgroup_procs_write) against a non-leader
 * thread's execve (src/kernel/exec.ts de_thread), explored in controlled mode. The writer reads
 * the group's leader and walks its thread ring under read_lock(tasklist_lock) until it is back at
 * the leader; de_thread swaps the leader and releases the old one (off the ring). fs/exec.c's
 * de_thread does the swap under cgroup_threadgroup_change_begin, the read side of the rwsem the
 * writer holds for write, so a writer never starts its walk at a leader that leaves the ring.
 * Without that read side (the model before session 8) a schedule in which the writer reads the old
 * leader, then spins in read_lock while the swap and release_task run, walks the ring for ever:
 * the soft lockup of session 7's 10-minute free run (CPU#2 in cgroup_procs_write holding
 * tasklist_lock for read, a writer spinning in write_lock behind it).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CLONE_SIGHAND, CLONE_THREAD, CLONE_VM } from '../src/kernel/sched_task.js';
import { SYS_CGROUP_PROCS_WRITE, SYS_EXECVE, SYS_EXIT, SYS_FORK, SYS_PAUSE, SYS_WAIT4 } from '../src/kernel/unistd.js';
import { halt, prog, repeat, start_init } from '../src/scenarios/build.js';
import { closePools, searchSchedules } from '../src/scenarios/runner.js';
import type { Scenario, Variant } from '../src/scenarios/types.js';

afterAll(async () => {
  await closePools();
});

/** P is init's first child: pid 2 (W is 3, P's thread T 4). */
const P_PID = 2;
/** The pids cgroups the writer moves P's group between (both below the root). */
const CG_A = 1;
const CG_B = 2;

const CGROUP_VS_EXEC: Scenario = {
  id: 'test-cgroup-de-thread',
  slug: 'cgroup-procs-vs-de-thread',
  title: 'cgroup.procs write of a process whose non-leader thread execs',
  year: '-',
  kind: 'design-study',
  commits: [],
  variants: [{ name: 'today', bugs: 0, expect: 'clean', summary: 'de_thread swaps the leader under cgroup_threadgroup_change_begin' }],
  defaultVariant: 'today',
  ncpus: 3,
  interleaving: [
    'init forks P and W; P clones a thread T and pauses; T execs: de_thread kills P\'s leader and takes its place',
    'W writes P\'s pid to cgroup.procs, again and again: cgroup_procs_write reads the leader, walks the thread ring',
  ],
  expected: 'clean: every run ends',
  pctDepth: 3,
  pctSteps: 400,
  build(m) {
    const image = prog(m, 'image', [[SYS_EXIT, 0]]);
    const t = prog(m, 'T', [[SYS_EXECVE, image]]);
    const p = prog(m, 'P', [[SYS_FORK, CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, t, 0], [SYS_PAUSE]]);
    const w = prog(m, 'W', [...repeat(0, [[SYS_CGROUP_PROCS_WRITE, CG_A, P_PID], [SYS_CGROUP_PROCS_WRITE, CG_B, P_PID]], 12), [SYS_EXIT, 0]]);
    start_init(m, prog(m, 'init', [[SYS_FORK, 0, p, 0], [SYS_FORK, 0, w, 0], [SYS_WAIT4, -1, 0], [SYS_WAIT4, -1, 0], halt]));
  },
  check: () => ({ matched: false, detail: 'clean expected' }),
};

describe('cgroup.procs write vs de_thread\'s leader swap', () => {
  it('every explored schedule ends: the writer never walks a ring its leader left', async () => {
    const v: Variant = CGROUP_VS_EXEC.variants[0]!;
    const r = await searchSchedules(CGROUP_VS_EXEC, v, { seed: 1, schedules: 120 });
    expect(r.first?.state, r.first ? `schedule ${r.firstAt}: ${r.first.state} ${r.first.outcome}` : '').toBeUndefined();
    expect(r.schedules).toBe(120);
  }, 120_000);
});
