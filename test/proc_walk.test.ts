/**
 * The stress mix's /proc operation (issue 14, catalog entry 8): readlink("/proc/self/ns/pid") as an
 * RCU-mode path walk (src/kernel/proc_root.ts proc_ns_readlink_rcu) reads the proc superblock's
 * pid namespace holding nothing but rcu_read_lock. On real CPU workers in controlled mode, with
 * entry 8's interleaving and this walk as the reader: the init X of a new namespace N mounts proc
 * and exits, R walks /proc/self (it is not in N: proc_self_get_link reads N and finds no number,
 * ENOENT), init reaps X, waits for a grace period and unmounts, putting N's last reference.
 * - BUG_FREE_WITHOUT_GP (N freed at that put): the walk's read of N after the umount is reported
 *   by the generic use-after-free check (rcu_dereference_check against the poison word) as
 *   entry 8's violation. Seen failing with the walk's rcu_dereference_check calls taken out.
 * - The fix (call_rcu): the same schedules are clean.
 */
import { afterAll, describe, expect, it } from 'vitest';
import '../src/kernel/index.js';
import { E8 } from '../src/scenarios/e8_free_gp.js';
import { closePools, searchSchedules } from '../src/scenarios/runner.js';
import { halt, prog, repeat, start_init } from '../src/scenarios/build.js';
import type { Scenario } from '../src/scenarios/types.js';
import { SYS_EXIT, SYS_FORK, SYS_MOUNT_PROC, SYS_PROC_NS_READLINK, SYS_UMOUNT_PROC, SYS_WAIT4 } from '../src/kernel/unistd.js';
import { CLONE_NEWPID } from '../src/kernel/sched_task.js';
import { SYS_SYNCHRONIZE_RCU } from '../src/kernel/torture.js';
import { NSK_PID } from '../src/kernel/nsfs.js';

afterAll(async () => {
  await closePools();
});

/** Walks of /proc/self by R (each one RCU read-side section). */
const WALKS = 96;

const SELF_WALK: Scenario = {
  ...E8,
  id: '8-self',
  slug: 'free-without-gp-proc-self',
  build(m) {
    const x = prog(m, 'X', [[SYS_MOUNT_PROC], [SYS_EXIT, 0]]);
    const rd = prog(m, 'R', repeat(0, [[SYS_PROC_NS_READLINK, 0, NSK_PID]], WALKS));
    start_init(m, prog(m, 'init', [[SYS_FORK, CLONE_NEWPID, x, 0], [SYS_FORK, 0, rd, 0], [SYS_WAIT4, 2, 0], [SYS_SYNCHRONIZE_RCU], [SYS_UMOUNT_PROC], halt]));
  },
};

describe('readlink /proc/self/ns/pid in RCU mode against the last put of the superblock\'s namespace', () => {
  it('without a grace period before the free: the walk reads the freed struct pid_namespace (entry 8\'s violation)', async () => {
    const v = SELF_WALK.variants.find((x) => x.expect === 'violation')!;
    const r = await searchSchedules(SELF_WALK, v, { seed: 1, schedules: 300 });
    expect(r.asExpected, JSON.stringify(r.outcomes)).toBe(true);
    expect(r.first?.report).toMatch(/RCU reader saw a freed object/);
    expect(r.first?.report).toMatch(/struct pid_namespace/);
    // The violation log's own line names the freed object's cache and the reader's system call.
    expect(r.first?.report).toMatch(/RCU reader \(nesting \d+\) in proc_ns_readlink dereferenced struct pid_namespace ffff[0-9a-f]+ after it was freed/);
  }, 60_000);

  it('with call_rcu (the fix): the same search is clean', async () => {
    const v = SELF_WALK.variants.find((x) => x.expect === 'clean')!;
    const r = await searchSchedules(SELF_WALK, v, { seed: 1, schedules: 60 });
    expect(r.first, r.first?.report).toBeUndefined();
    expect(r.schedules).toBe(60);
  }, 60_000);
});
