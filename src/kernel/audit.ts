/**
 * The kernel audit: every structural invariant of the process model, checked at a quiescent point
 * (no CPU running kernel code; callers drain RCU callbacks first). Returns one line per problem;
 * an empty list means consistent. Tests call it after every scenario, the stress run at the end.
 *
 * - the task tree both ways: process list <-> leaders, children/sibling lists <-> real_parent,
 *   thread rings <-> group_leader/signal, ptraced lists <-> parent/ptrace;
 * - every hashed task's pids: PID.task_pid / task_tgid point back, the pid is live and found by
 *   find_pid_ns at every level (pid.ts audit_pids checks the idr, pid_allocated and namespace krefs);
 * - zombies only under a live (not exited) parent; no EXIT_DEAD task left behind;
 * - reference counts: task rcu_users, signal_struct counts and nr_threads/live, struct pid counts
 *   (hashed + process-group references + pidfds), user namespaces (creds, children, owned
 *   namespaces, files), nsproxy / ns_common / files (nsproxy.ts audit_nsproxy);
 * - G.nr_threads equals the hashed tasks (plus kernel threads), G.nr_files the file records;
 * - no lock held and no RCU reader open on any CPU, no mutex owned;
 * - with a boot baseline: when only the init task remains, every cache is back to it.
 */
import {
  CPU, FASYNC, FILE, G, NR_PIDS_CGROUPS, NSCOMMON, NSPROXY, PID, PIDNS, PERCPU_RWSEM, PIDS_CG, POISON_LIVE, RW_CNTS, SIG, SL_VAL, TASK, UPID_NR, UPID_NS,
  UPID_WORDS, USERNS, WQ_FIRST, WQ_LAST,
} from '../mm/layout.js';
import { cpu_addr, kg, mem, NR_SLABS, regions, SLAB_FILE, SLAB_NAMES, SLAB_NSCOMMON, SLAB_NSPROXY, SLAB_PID, SLAB_PIDNS, SLAB_SIGNAL, SLAB_TASK, SLAB_USERNS } from '../mm/memory.js';
import { kmem_cache_in_use } from '../mm/slab.js';
import { rcu_callbacks_pending } from '../rcu/rcu.js';
import { TASK_DEAD, TASK_INTERRUPTIBLE, TASK_UNINTERRUPTIBLE, WCHAN_MUTEX } from '../sched/core.js';
import { audit_pids, find_pid_ns } from './pid.js';
import { audit_nsproxy } from './nsproxy.js';
import { FILE_NSFS } from './nsfs.js';
import { EXIT_DEAD, PF_EXITING, PF_KTHREAD } from './sched_task.js';
import { TASK_NEW } from './fork.js';
import { EXP_SIGNALS } from './exit.js';
import { percpu_rwsem_readers } from '../locking/percpu_rwsem.js';
import { CLONE_NEWPID, CLONE_NEWUSER } from './ns_common.js';
import { ptrace_attach_task_ref } from './ptrace.js';

export interface AuditOptions {
  /** Slab in_use per cache right after boot (the API records it). */
  baseline?: readonly number[];
}

function live(kind: number, poisonOff: number): number[] {
  const r = regions.objects[kind]!;
  const out: number[] = [];
  for (let i = 0; i < r.count; i++) {
    const p = r.base + i * r.stride;
    if (Atomics.load(mem, p + poisonOff) === POISON_LIVE) out.push(p);
  }
  return out;
}

const tid = (t: number): string => `task ${mem[t + TASK.id]}@${t}`;

/**
 * A struct pid kept allocated by cad_pid alone (its task gone): 1 or 0. A write of
 * /proc/sys/kernel/cad_pid pins the pid it names for as long as cad_pid names it, as in the kernel;
 * the leak checks against the boot baseline allow for it.
 */
export function cad_pid_pinned(m: Int32Array = mem, k: number = kg): number {
  const cad = m[k + G.cad_pid]!;
  if (!cad || Atomics.load(m, cad + PID.poison) !== POISON_LIVE) return 0;
  return m[cad + PID.task_pid] === 0 && m[cad + PID.task_tgid] === 0 ? 1 : 0;
}

/** audit_kernel: see the file comment. */
export function audit_kernel(opts: AuditOptions = {}): string[] {
  const out: string[] = [];
  const bad = (s: string): void => { if (out.length < 500) out.push(s); };
  const tasks = live(SLAB_TASK, TASK.poison);
  const taskSet = new Set(tasks);
  const init = mem[kg + G.init_task]!;
  const alive = (t: number): boolean => taskSet.has(t);

  // ---- the process list --------------------------------------------------------------------------
  const inList = new Set<number>();
  if (!init || !alive(init)) bad('init task is not live');
  else {
    let p = init;
    let n = 0;
    do {
      if (!alive(p)) { bad(`process list: freed task @${p}`); break; }
      if (inList.has(p)) { bad(`process list: loop at ${tid(p)}`); break; }
      inList.add(p);
      const next = mem[p + TASK.tasks_next]!;
      if (mem[next + TASK.tasks_prev] !== p) bad(`process list: ${tid(next)}.prev is not ${tid(p)}`);
      p = next;
      if (++n > tasks.length + 1) { bad('process list: longer than the task cache'); break; }
    } while (p !== init);
  }

  // References sleepers hold on other tasks (ptrace_attach asleep on cred_guard_mutex).
  const heldRefs = new Map<number, number>();
  for (const t of tasks) {
    const r = ptrace_attach_task_ref(t);
    if (r) heldRefs.set(r, (heldRefs.get(r) ?? 0) + 1);
  }

  // ---- every task record ---------------------------------------------------------------------------
  let hashed = 0;
  let kthreads = 0;
  const sigRefs = new Map<number, number>();
  const sigThreads = new Map<number, number>();
  const sigLive = new Map<number, number>();
  const pgrpRefs = new Map<number, number>();
  const userRefs = new Map<number, number>();
  const bump = (m: Map<number, number>, k: number, d = 1): void => { m.set(k, (m.get(k) ?? 0) + d); };
  const inFlightSig = new Set<number>();
  for (const t of tasks) {
    const flags = mem[t + TASK.flags]!;
    if ((flags & PF_KTHREAD) !== 0) {
      kthreads++;
      continue;
    }
    if (Atomics.load(mem, t + TASK.state) === TASK_NEW) {
      // A child copy_process is still building (its parent sleeps in copy_namespaces): not
      // visible yet, its references are the parent's business.
      inFlightSig.add(mem[t + TASK.signal]!);
      continue;
    }
    const s = mem[t + TASK.signal]!;
    if (s) bump(sigRefs, s);
    const uns = mem[t + TASK.cred_user_ns]!;
    if (uns) bump(userRefs, uns);
    const pg = mem[t + TASK.pgrp]!;
    if (pg) bump(pgrpRefs, pg);
    const sid = mem[t + TASK.session]!;
    if (sid) bump(pgrpRefs, sid); // the session pid's reference counts the same way
    const pid = mem[t + TASK.pid]!;
    const es = mem[t + TASK.exit_state]!;
    const dead = Atomics.load(mem, t + TASK.state) === TASK_DEAD;
    if (!pid) {
      // Released (unhashed): only its RCU-delayed free may still be pending (or a sleeper's reference).
      if (heldRefs.has(t)) continue;
      bad(`${tid(t)} is released but not freed (usage ${mem[t + TASK.usage]}, rcu_users ${mem[t + TASK.rcu_users]}, exit_state ${es})`);
      continue;
    }
    hashed++;
    if (es === EXIT_DEAD) bad(`${tid(t)} is EXIT_DEAD but still hashed (never released)`);
    // rcu_users: 2 until release_task and the last switch away; a zombie whose CPU is done has 1.
    // usage: the one the rcu_users hold, and the get_task_struct references of sleepers.
    const wantUsers = dead ? 1 : 2;
    if (mem[t + TASK.rcu_users] !== wantUsers) bad(`${tid(t)}: rcu_users ${mem[t + TASK.rcu_users]}, expected ${wantUsers}${dead ? ' (dead, unreaped)' : ''}`);
    const wantUsage = 1 + (heldRefs.get(t) ?? 0);
    if (mem[t + TASK.usage] !== wantUsage) bad(`${tid(t)}: usage ${mem[t + TASK.usage]}, expected ${wantUsage}`);
    if (es !== 0 && !dead) bad(`${tid(t)}: exit_state ${es} but not TASK_DEAD`);
    if (es === 0 && dead) bad(`${tid(t)}: TASK_DEAD without exit_state`);
    if (!s || Atomics.load(mem, s + SIG.poison) !== POISON_LIVE) { bad(`${tid(t)}: signal_struct @${s} is not live`); continue; }
    if (mem[t + TASK.sighand] !== s) bad(`${tid(t)}: sighand ${mem[t + TASK.sighand]} != signal ${s}`);
    bump(sigThreads, s);
    if (es === 0 && (flags & PF_EXITING) === 0) bump(sigLive, s);
    if (es === 0 && (flags & PF_EXITING) === 0 && !mem[t + TASK.nsproxy]) bad(`${tid(t)}: running task without nsproxy`);
    if ((flags & PF_EXITING) === 0 && es === 0 && mem[t + TASK.exit_phase] !== 0 && mem[t + TASK.exit_phase] !== EXP_SIGNALS) bad(`${tid(t)}: exit phase ${mem[t + TASK.exit_phase]} without PF_EXITING`);
    // pids
    if (Atomics.load(mem, pid + PID.poison) !== POISON_LIVE) bad(`${tid(t)}: struct pid @${pid} is freed`);
    else {
      if (mem[pid + PID.task_pid] !== t) bad(`${tid(t)}: pid->task_pid is ${mem[pid + PID.task_pid]}`);
      const level = mem[pid + PID.level]!;
      for (let l = 0; l <= level; l++) {
        const u = pid + PID.SIZE + l * UPID_WORDS;
        if (find_pid_ns(mem[u + UPID_NR]!, mem[u + UPID_NS]!) !== pid) bad(`${tid(t)}: pid ${mem[u + UPID_NR]} at level ${l} is not hashed`);
      }
    }
    // thread group
    const leader = mem[t + TASK.group_leader]!;
    if (!alive(leader)) { bad(`${tid(t)}: group leader @${leader} is not live`); continue; }
    if (mem[leader + TASK.signal] !== s) bad(`${tid(t)}: signal differs from its leader's`);
    if (mem[t + TASK.tgid_pid] !== mem[leader + TASK.pid]) bad(`${tid(t)}: tgid pid is not its leader's pid`);
    let inRing = false;
    let x = leader;
    for (let n = 0; n <= tasks.length; n++) {
      if (x === t) { inRing = true; break; }
      x = mem[x + TASK.thread_next]!;
      if (x === leader || x === 0) break;
    }
    if (!inRing) bad(`${tid(t)}: not on its leader's thread ring`);
    const tn = mem[t + TASK.thread_next]!;
    if (mem[tn + TASK.thread_prev] !== t) bad(`${tid(t)}: thread ring: next ${tn} has thread_prev ${mem[tn + TASK.thread_prev]}`);
    const rp = mem[t + TASK.real_parent]!;
    if (leader === t) {
      if (mem[pid + PID.task_tgid] !== t) bad(`${tid(t)}: pid->task_tgid is ${mem[pid + PID.task_tgid]}`);
      if (!inList.has(t)) bad(`${tid(t)}: leader not on the process list`);
      if (t !== init) {
        if (!alive(rp)) bad(`${tid(t)}: real_parent @${rp} is not live`);
        else {
          if (mem[rp + TASK.exit_state] !== 0) bad(`${tid(t)}${es ? ' (zombie)' : ''}: real_parent ${tid(rp)} has exited (exit_state ${mem[rp + TASK.exit_state]})`);
          let found = false;
          for (let c = mem[rp + TASK.children]!, n = 0; c && n <= tasks.length; c = mem[c + TASK.sibling_next]!, n++) if (c === t) { found = true; break; }
          if (!found) bad(`${tid(t)}: not on real_parent ${tid(rp)}'s children list`);
        }
      }
    } else if (inList.has(t)) bad(`${tid(t)}: non-leader on the process list`);
    // parent / ptrace
    const par = mem[t + TASK.parent]!;
    if (mem[t + TASK.ptrace] === 0) {
      if (par !== rp) bad(`${tid(t)}: parent ${par} != real_parent ${rp} while not traced`);
    } else {
      let found = false;
      if (alive(par)) for (let c = mem[par + TASK.ptraced]!, n = 0; c && n <= tasks.length; c = mem[c + TASK.ptrace_next]!, n++) if (c === t) { found = true; break; }
      if (!found) bad(`${tid(t)}: traced but not on its tracer's ptraced list`);
    }
    // children list shape
    let prev = 0;
    let last = 0;
    for (let c = mem[t + TASK.children]!, n = 0; c; c = mem[c + TASK.sibling_next]!, n++) {
      if (n > tasks.length) { bad(`${tid(t)}: children list loop`); break; }
      if (!alive(c)) { bad(`${tid(t)}: freed child @${c}`); break; }
      if (mem[c + TASK.real_parent] !== t) bad(`${tid(c)} is on ${tid(t)}'s children but its real_parent is ${mem[c + TASK.real_parent]}`);
      if (mem[c + TASK.sibling_prev] !== prev) bad(`${tid(c)}: sibling_prev broken`);
      if (mem[c + TASK.group_leader] !== c) bad(`${tid(c)}: a non-leader on a children list`);
      prev = c;
      last = c;
    }
    if (mem[t + TASK.children_last] !== last) bad(`${tid(t)}: children_last ${mem[t + TASK.children_last]} != ${last}`);
    for (let c = mem[t + TASK.ptraced]!, n = 0; c; c = mem[c + TASK.ptrace_next]!, n++) {
      if (n > tasks.length || !alive(c)) { bad(`${tid(t)}: ptraced list broken`); break; }
      if (mem[c + TASK.parent] !== t || mem[c + TASK.ptrace] === 0) bad(`${tid(c)} on ${tid(t)}'s ptraced list but parent ${mem[c + TASK.parent]}, ptrace ${mem[c + TASK.ptrace]}`);
    }
  }
  const nr = Atomics.load(mem, kg + G.nr_threads);
  if (nr !== hashed + kthreads) bad(`nr_threads ${nr}, but ${hashed} hashed tasks + ${kthreads} kernel threads`);

  // ---- signal_structs -------------------------------------------------------------------------------
  for (const s of live(SLAB_SIGNAL, SIG.poison)) {
    if (inFlightSig.has(s)) continue;
    const refs = sigRefs.get(s) ?? 0;
    if (mem[s + SIG.count] !== refs) bad(`signal_struct @${s}: count ${mem[s + SIG.count]}, ${refs} tasks reference it${refs === 0 ? ' (leaked)' : ''}`);
    const th = sigThreads.get(s) ?? 0;
    if (mem[s + SIG.nr_threads] !== th) bad(`signal_struct @${s}: nr_threads ${mem[s + SIG.nr_threads]}, ${th} hashed threads`);
    const lv = sigLive.get(s) ?? 0;
    if (Atomics.load(mem, s + SIG.live) !== lv) bad(`signal_struct @${s}: live ${mem[s + SIG.live]}, ${lv} threads not exiting`);
    if (mem[s + SIG.siglock + SL_VAL] !== 0) bad(`signal_struct @${s}: siglock held`);
  }

  // ---- struct pid reference counts ---------------------------------------------------------------------
  // Open files' f_owner references (fasync registrations, src/kernel/fasync.ts).
  for (let fa = mem[kg + G.fasync_owners]!, k = 0; fa && k < 4096; fa = mem[fa + FASYNC.owned_next]!, k++) {
    const op = mem[fa + FASYNC.fown_pid]!;
    if (op) pgrpRefs.set(op, (pgrpRefs.get(op) ?? 0) + 1);
  }
  // cad_pid's reference (kernel_init_freeable, proc_do_cad_pid: src/kernel/reboot.ts).
  const cad = mem[kg + G.cad_pid]!;
  if (cad) pgrpRefs.set(cad, (pgrpRefs.get(cad) ?? 0) + 1);
  for (const pid of live(SLAB_PID, PID.poison)) {
    const attached = mem[pid + PID.task_pid] !== 0 || mem[pid + PID.task_tgid] !== 0 ? 1 : 0;
    const want = attached + (pgrpRefs.get(pid) ?? 0) + Atomics.load(mem, pid + PID.pidfds);
    const have = Atomics.load(mem, pid + PID.count);
    if (have !== want) bad(`struct pid @${pid} (nr ${mem[pid + PID.SIZE + UPID_NR]}): count ${have}, references found ${want}${want === 0 ? ' (leaked)' : ''}`);
  }

  // ---- pid namespaces (pid.ts) with the references held outside the pid code ----------------------------
  const pidnsExtra = new Map<number, number>();
  const files = live(SLAB_FILE, FILE.poison);
  const nrFiles = Atomics.load(mem, kg + G.nr_files);
  if (nrFiles !== files.length) bad(`nr_files ${nrFiles}, but ${files.length} file records allocated`);
  for (const np of live(SLAB_NSPROXY, NSPROXY.poison)) bump(pidnsExtra, mem[np + NSPROXY.pid_ns_for_children]!);
  for (const f of files) {
    if (mem[f + FILE.kind] === FILE_NSFS && mem[f + FILE.ns_type] === CLONE_NEWPID) bump(pidnsExtra, mem[f + FILE.obj]!);
    if (mem[f + FILE.kind] === FILE_NSFS && mem[f + FILE.ns_type] === CLONE_NEWUSER) bump(userRefs, mem[f + FILE.obj]!);
  }
  for (const s of audit_pids((ns) => pidnsExtra.get(ns) ?? 0)) bad(s);
  for (const s of audit_nsproxy()) bad(s);

  // ---- pids cgroups (src/kernel/cgroup_pids.ts): each counter is the charges of its subtree --------
  {
    const charged = new Array<number>(NR_PIDS_CGROUPS).fill(0);
    for (const t of tasks) {
      if (Atomics.load(mem, t + TASK.pids_charged) !== 1) continue;
      for (let i = mem[t + TASK.pids_cgrp]!; i >= 0 && i < NR_PIDS_CGROUPS; i = mem[kg + G.pids_cgroup + i * PIDS_CG.SIZE + PIDS_CG.parent]!) charged[i]!++;
    }
    for (let i = 1; i < NR_PIDS_CGROUPS; i++) {
      const have = Atomics.load(mem, kg + G.pids_cgroup + i * PIDS_CG.SIZE + PIDS_CG.counter);
      if (have !== charged[i]) bad(`pids cgroup ${i}: pids.current ${have}, charged tasks found ${charged[i]}`);
    }
  }

  // ---- user namespaces ------------------------------------------------------------------------------
  const initUser = mem[kg + G.init_user_ns]!;
  for (const ns of live(SLAB_USERNS, USERNS.poison)) bump(userRefs, mem[ns + USERNS.parent]!);
  for (const ns of live(SLAB_PIDNS, PIDNS.poison)) bump(userRefs, mem[ns + PIDNS.user_ns]!);
  for (const ns of live(SLAB_NSCOMMON, NSCOMMON.poison)) bump(userRefs, mem[ns + NSCOMMON.user_ns]!);
  for (const ns of live(SLAB_USERNS, USERNS.poison)) {
    if (ns === initUser) continue;
    const want = userRefs.get(ns) ?? 0;
    const have = Atomics.load(mem, ns + USERNS.count);
    if (have !== want) bad(`user namespace @${ns} (level ${mem[ns + USERNS.level]}): count ${have}, references found ${want}${want === 0 ? ' (leaked)' : ''}`);
  }

  // ---- wait queues -----------------------------------------------------------------------------------
  // A task leaves a wait queue when its wait ends (finish_wait, or the waker's autoremove): at a
  // quiescent point only a sleeping task is queued, exactly on the queue it names, and every queue
  // lists only such tasks. A stale entry is a task that returned from its sleeping call still linked
  // (a later wake-up of that queue would walk into whatever the task record has become).
  const queues: Array<[string, number]> = [['rcu_gp_wq', kg + G.rcu_gp_wq], ['srcu_wq', kg + G.srcu_wq]];
  for (const s of live(SLAB_SIGNAL, SIG.poison)) queues.push([`signal_struct @${s}: wait_chldexit`, s + SIG.wait_chldexit]);
  const queued = new Map<number, number>();
  for (const [name, wq] of queues) {
    let prev = 0;
    for (let x = mem[wq + WQ_FIRST]!, n = 0; x; prev = x, x = mem[x + TASK.wq_next]!, n++) {
      if (n > tasks.length || !alive(x)) { bad(`${name}: list broken at @${x}${alive(x) ? ' (loop)' : ' (not a live task)'}`); break; }
      queued.set(x, wq);
      if (mem[x + TASK.wq_head] !== wq) bad(`${name}: ${tid(x)} is linked but its wq_head is ${mem[x + TASK.wq_head]}`);
      const st = Atomics.load(mem, x + TASK.state);
      if (st !== TASK_INTERRUPTIBLE && st !== TASK_UNINTERRUPTIBLE) bad(`${name}: ${tid(x)} is queued but not asleep (state ${st}, exit_state ${mem[x + TASK.exit_state]})`);
    }
    if (mem[wq + WQ_LAST] !== prev) bad(`${name}: last is ${mem[wq + WQ_LAST]}, the list ends at ${prev}`);
  }
  for (const t of tasks) {
    const wq = mem[t + TASK.wq_head]!;
    if (!wq || mem[t + TASK.wait_chan] === WCHAN_MUTEX) continue;
    if (queues.some(([, q]) => q === wq) && queued.get(t) !== wq) bad(`${tid(t)}: wq_head ${wq} but not on that queue`);
    const st = Atomics.load(mem, t + TASK.state);
    if (st !== TASK_INTERRUPTIBLE && st !== TASK_UNINTERRUPTIBLE) bad(`${tid(t)}: still on wait queue ${wq} but not asleep (state ${st}, exit_state ${mem[t + TASK.exit_state]})`);
  }

  // ---- locks and RCU --------------------------------------------------------------------------------
  for (let i = 0; i < mem[kg + G.ncpus]!; i++) {
    const c = cpu_addr(i);
    if (mem[c + CPU.held_depth] !== 0) bad(`cpu ${i}: ${mem[c + CPU.held_depth]} locks held`);
    if (mem[c + CPU.preempt_count] !== 0) bad(`cpu ${i}: preempt_count ${mem[c + CPU.preempt_count]}`);
    if (mem[c + CPU.rcu_nesting] !== 0) bad(`cpu ${i}: rcu_read_lock nesting ${mem[c + CPU.rcu_nesting]}`);
    if (mem[c + CPU.irqs_off] !== 0) bad(`cpu ${i}: interrupts disabled (${mem[c + CPU.irqs_off]})`);
  }
  if (mem[kg + G.tasklist_lock + RW_CNTS] !== 0) bad(`tasklist_lock held (cnts ${mem[kg + G.tasklist_lock + RW_CNTS]})`);
  if (mem[kg + G.pidmap_lock + SL_VAL] !== 0) bad('pidmap_lock held');
  {
    const sem = kg + G.cgroup_threadgroup_rwsem;
    const readers = percpu_rwsem_readers(mem, sem);
    if (readers !== 0) bad(`cgroup_threadgroup_rwsem: ${readers} readers`);
    if (mem[sem + PERCPU_RWSEM.block] !== 0 || mem[sem + PERCPU_RWSEM.owner] !== 0) bad(`cgroup_threadgroup_rwsem held for write (block ${mem[sem + PERCPU_RWSEM.block]}, owner ${mem[sem + PERCPU_RWSEM.owner]})`);
    if (mem[sem + PERCPU_RWSEM.rss_gp_count] !== 0) bad(`cgroup_threadgroup_rwsem: rcu_sync gp_count ${mem[sem + PERCPU_RWSEM.rss_gp_count]}`);
  }
  for (const t of tasks) {
    if (mem[t + TASK.held_depth] !== 0) bad(`${tid(t)} holds ${mem[t + TASK.held_depth]} sleeping locks`);
    if (mem[t + TASK.percpu_rwsem_read] !== 0) bad(`${tid(t)} holds a percpu_rw_semaphore for read`);
    if (mem[t + TASK.alloc_lock + SL_VAL] !== 0) bad(`${tid(t)}: task_lock held`);
  }

  // ---- leaks against the boot baseline -------------------------------------------------------------
  if (opts.baseline && hashed === 1 && kthreads === 0 && rcu_callbacks_pending() === 0) {
    for (let k = 0; k < NR_SLABS; k++) {
      const inUse = kmem_cache_in_use(mem, regions, k) - (k === SLAB_PID ? cad_pid_pinned() : 0);
      if (inUse !== opts.baseline[k]) bad(`${SLAB_NAMES[k]}: ${inUse} objects allocated, ${opts.baseline[k]} at boot (leak)`);
    }
  }
  return out;
}
