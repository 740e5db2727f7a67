/**
 * The wait-for graph, built only from the model's state in shared memory (a live view or a
 * snapshot taken while the CPUs were frozen).
 *
 * Nodes are CPUs and tasks. A task running on a CPU is represented by that CPU (what the CPU
 * holds, its task holds). Edges say "cannot go on until that one does something":
 * - a CPU spinning on a spinlock -> the CPU that owns it (SL_OWNER);
 * - a CPU spinning on a queued rwlock -> the writer (RW_WRITER), or for a writer the CPUs that
 *   hold it for read (their held-lock stacks), or for a CPU queued on the rwlock's wait_lock the
 *   CPU that holds that wait_lock (the one spinning on cnts);
 * - a CPU waiting for a task's on_cpu to clear -> the CPU that still runs it;
 * - a task sleeping in mutex_lock -> the mutex owner (MX_OWNER);
 * - a task blocked on a percpu_rw_semaphore by its block (percpu_rwsem_wait, a reader or a second
 *   writer) -> the writer that set it (owner); the writer waiting for readers to drain -> every
 *   task that holds it for read (TASK.percpu_rwsem_read);
 * - a task in synchronize_rcu -> every online, non-idle CPU that has not reported a quiescent
 *   state for the running grace period;
 * - a task in synchronize_srcu -> every task whose SRCU read side (TASK.srcu_idx) is on the index
 *   being drained, or the task that owns the running SRCU grace period;
 * - a task in synchronize_rcu_tasks (its holdout loop) -> the CPUs that owe the normal grace
 *   period it polls after a quiescent state, and every holdout check_holdout_task would keep
 *   (running or runnable, no voluntary switch since the scan; not one asleep);
 * - a task in do_wait (wait4) -> each child and tracee of its thread group (or the one task it
 *   waits for) that can still end the wait: alive (any may change state), a zombie traced by a
 *   task outside the group, and for a zombie leader with threads not yet released each of those
 *   threads (wait_consider_task's notask_error = 0 cases); not an EXIT_DEAD one, which do_wait
 *   skips;
 * - a task in zap_pid_ns_processes -> every other task whose pid is in the namespace;
 * - a task stopped in ptrace_stop (TASK_TRACED) -> its tracer, while the tracer is alive and not
 *   exiting (only it resumes the tracee; exit_ptrace lets tracees go): not blocked by itself;
 * - a task in de_thread (execve) -> every other thread of its group not yet released, or, while
 *   it waits for them to exit (today: a non-leader waiting for the old leader), each one that has
 *   not exited;
 * - a zombie -> its parent (it waits to be reaped); a zombie group leader with other threads not
 *   yet released -> each of them instead (delay_group_leader: no wait4 reaps it before
 *   thread_group_empty(), after __exit_signal of its last thread - a live one, a traced zombie,
 *   an EXIT_DEAD one on a dead list);
 * - an EXIT_DEAD task on an exiting task's exit_notify dead list (TASK.exit_dead) -> that task,
 *   whose release_task of the list frees its pid - only while the owner is still in exit_notify
 *   (exit_phase EXP_NOTIFY / EXP_ZAP) and can still release it; a list whose owner went past it
 *   is a leak for the audit, not a wait.
 * A CPU waiting for a run token (src/sched/run_token.ts), or for its turn on a host thread that
 * runs several CPUs (src/sched/mux.ts), holds nothing and runs no task: it is runnable, has no
 * edge, and so is never part of a cycle.
 * A cycle is a deadlock; chains that end at a task waiting for an event nobody will send
 * (pause, a wait queue) are reported as blocked without a cycle.
 */
import {
  CPU, G, HELD_LOCK, HELD_WORDS, MAX_TASK_HELD, MX_CLASS, MX_OWNER, PERCPU_RWSEM, PID, PIDNS, POISON_LIVE, QW_LOCKED, RCU_GP_SEQ, RCU_GP_STARTED, SIG,
  RW_CLASS, RW_CNTS, RW_WAIT_OWNER, RW_WRITER, SL_CLASS, SL_OWNER, SRCU_GP_OWNER, TASK, UPID_NR,
  UCALL, UPID_NS, UPID_WORDS,
} from '../mm/layout.js';
import { SLAB_TASK, type Regions } from '../mm/memory.js';
import { HELD_READ, HELD_READ_IRQ, HELD_SPIN, HELD_WRITE, held_class, held_mode, lock_class_name } from '../locking/lockdep.js';
import {
  TASK_DEAD, TASK_INTERRUPTIBLE, TASK_RUNNING, TASK_NEW, TASK_UNINTERRUPTIBLE, WCHAN_MUTEX, WCHAN_NAMES, WCHAN_PAUSE, WCHAN_RCU_GP,
  WCHAN_DE_THREAD, WCHAN_PTRACE_STOP, WCHAN_RCU_TASKS, WCHAN_SIGNAL_STOP, WCHAN_SRCU_GP, WCHAN_PIDFD_POLL, WCHAN_VFORK, WCHAN_WAIT4, WCHAN_WAITQ,
  WCHAN_ZAP_PIDS, WCHAN_PERCPU_RWSEM, __TASK_STOPPED, __TASK_TRACED,
} from '../sched/core.js';
import { PRW_WAIT_READER, PRW_WAIT_READERS } from '../locking/percpu_rwsem.js';
import { WAIT_IDLE } from '../sched/hook.js';
import { syscall_name } from '../kernel/entry.js';
import { EXP_NOTIFY, EXP_ZAP } from '../kernel/exit.js';
import { EXIT_DEAD, EXIT_ZOMBIE, PF_EXITING } from '../kernel/sched_task.js';

export const HELD_MODE_NAMES = ['-', 'spin', 'read', 'write', 'read(irq)', 'mutex'];

export interface HeldLock {
  /** Word address of the lock. */
  addr: number;
  cls: string;
  mode: string;
  /** Acquire site id (sched_hook site), 0 when unknown. */
  site: number;
  /** Held by the CPU (spin/rw) or the task (mutex, srcu, rcu). */
  by: 'cpu' | 'task';
}

export interface TaskInfo {
  addr: number;
  id: number;
  name: string;
  /** pid in every namespace from the initial one down (NSpid), empty for a bare kernel thread. */
  nspid: number[];
  /** pid in the initial namespace (nspid[0]), or -id for a task without a pid. */
  pid: number;
  state: string;
  /** Kernel function it sleeps in (WCHAN_NAMES), '-' when not sleeping. */
  wchan: string;
  /** System call it is in (its pending ucall), '' in user mode. */
  syscall: string;
  /** That call's arguments as the program passed them (UCALL.a, b, c); empty in user mode. */
  syscallArgs: number[];
  exitState: string;
  parentPid: number;
  /** ms timestamp (low 31 bits) when it went to sleep. */
  sleepSince: number;
}

export interface WaitNode {
  key: string;
  kind: 'cpu' | 'task';
  cpu?: number;
  /** The task (for a CPU: the task it runs, if any). */
  task?: TaskInfo;
  /** What this node waits in / for, in words. */
  waiting: string;
  holds: HeldLock[];
  blocked: boolean;
}

export interface WaitEdge {
  from: string;
  to: string;
  /** The resource: "spinlock pidmap_lock", "mutex pid_caches_mutex", "rcu grace period 7" ... */
  why: string;
}

export interface WaitForGraph {
  nodes: WaitNode[];
  edges: WaitEdge[];
  /** Each cycle as a list of node keys (first node repeated implicitly at the end). */
  cycles: string[][];
  /** Blocked nodes (in a cycle or not). */
  blocked: string[];
  rcu: { completed: number; started: number };
}

/** What a report needs to read a state: the memory and where things are. */
export interface StateView {
  m: Int32Array;
  r: Regions;
  kg: number;
  /** Name of a task (program name, kthread ...). */
  nameOf?: (t: number) => string | undefined;
}

export function hex(addr: number): string {
  return 'ffff' + (addr * 4).toString(16).padStart(12, '0');
}

/** __state bits (include/linux/sched.h), by name, for states that have no letter of their own. */
const TASK_STATE_BITS: ReadonlyArray<readonly [number, string]> = [
  [0x0001, 'TASK_INTERRUPTIBLE'], [0x0002, 'TASK_UNINTERRUPTIBLE'], [0x0004, '__TASK_STOPPED'], [0x0008, '__TASK_TRACED'],
  [0x0040, 'TASK_PARKED'], [0x0080, 'TASK_DEAD'], [0x0100, 'TASK_WAKEKILL'], [0x0200, 'TASK_WAKING'], [0x0400, 'TASK_NOLOAD'],
  [TASK_NEW, 'TASK_NEW'], [0x1000, 'TASK_RTLOCK_WAIT'], [0x2000, 'TASK_FREEZABLE'], [0x8000, 'TASK_FROZEN'],
];

/**
 * A task's state as reports print it: the /proc letters (R, S, D, X), TASK_NEW for a child that
 * copy_process built and wake_up_new_task has not woken yet, and any other bits by name.
 */
export function task_state_name(s: number): string {
  if (s === 0) return 'R';
  if (s === TASK_DEAD) return 'X';
  if (s & TASK_UNINTERRUPTIBLE) return 'D';
  if (s & TASK_INTERRUPTIBLE) return 'S';
  if (s & __TASK_STOPPED) return 'T';
  if (s & __TASK_TRACED) return 't';
  const names: string[] = [];
  let rest = s;
  for (const [bit, name] of TASK_STATE_BITS) if (s & bit) { names.push(name); rest &= ~bit; }
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names.join('|');
}

/** Every live task record (poisoned live, or referenced and not freed). */
export function live_tasks(v: StateView): number[] {
  const o = v.r.objects[SLAB_TASK]!;
  const out: number[] = [];
  for (let i = 0; i < o.count; i++) {
    const t = o.base + i * o.stride;
    if (v.m[t + TASK.poison] === POISON_LIVE) out.push(t);
  }
  return out;
}

/** NSpid: pid numbers from level 0 down to the pid's own level (K1's struct pid upids). */
export function task_nspid(m: Int32Array, t: number): number[] {
  const pid = m[t + TASK.pid]!;
  if (!pid) return [];
  const level = m[pid + PID.level]!;
  const out: number[] = [];
  for (let i = 0; i <= level && i <= 64; i++) out.push(m[pid + PID.SIZE + i * UPID_WORDS + UPID_NR]!);
  return out;
}

export function task_info(v: StateView, t: number): TaskInfo {
  const m = v.m;
  const nspid = task_nspid(m, t);
  const parent = m[t + TASK.real_parent]!;
  const pp = parent ? task_nspid(m, parent) : [];
  const es = m[t + TASK.exit_state]!;
  const wchan = m[t + TASK.wait_chan]!;
  const st = m[t + TASK.state]!;
  const id = m[t + TASK.id]!;
  const uc = m[t + TASK.ucall]!;
  return {
    addr: t,
    id,
    name: v.nameOf?.(t) ?? (m[t + TASK.pid] ? 'task' : 'kthread'),
    nspid,
    pid: nspid.length ? nspid[0]! : -id,
    state: task_state_name(st),
    wchan: st !== 0 && st !== TASK_DEAD ? (WCHAN_NAMES[wchan] ?? `wchan#${wchan}`) : '-',
    syscall: uc ? syscall_name(uc) : '',
    syscallArgs: uc ? [m[t + TASK.ucall + UCALL.a]!, m[t + TASK.ucall + UCALL.b]!, m[t + TASK.ucall + UCALL.c]!] : [],
    exitState: es === EXIT_ZOMBIE ? 'zombie' : es === EXIT_DEAD ? 'dead' : es ? `exit#${es}` : '',
    parentPid: pp.length ? pp[0]! : 0,
    sleepSince: m[t + TASK.sleep_since]!,
  };
}

/** Locks a CPU holds (its held-lock stack) and its RCU read-side nesting. */
export function cpu_held(v: StateView, cpu: number): HeldLock[] {
  const m = v.m;
  const c = v.r.cpus.base + cpu * v.r.cpus.stride;
  const out: HeldLock[] = [];
  const d = Math.min(m[c + CPU.held_depth]!, 64);
  for (let i = 0; i < d; i++) {
    const e = c + CPU.held + i * HELD_WORDS;
    const mc = m[e + HELD_LOCK.mode_class]!;
    out.push({ addr: m[e + HELD_LOCK.lock]!, cls: lock_class_name(held_class(mc)), mode: HELD_MODE_NAMES[held_mode(mc)] ?? '?', site: m[e + HELD_LOCK.site]!, by: 'cpu' });
  }
  if (m[c + CPU.rcu_nesting]! > 0) out.push({ addr: v.kg + G.rcu, cls: 'rcu_read_lock', mode: 'read', site: 0, by: 'cpu' });
  return out;
}

/** Sleeping locks a task holds: mutexes (TASK.held) and its SRCU read side. */
export function task_held(v: StateView, t: number): HeldLock[] {
  const m = v.m;
  const out: HeldLock[] = [];
  const d = Math.min(m[t + TASK.held_depth]!, MAX_TASK_HELD);
  for (let i = 0; i < d; i++) {
    const mx = m[t + TASK.held + i]!;
    out.push({ addr: mx, cls: lock_class_name(m[mx + MX_CLASS]!), mode: 'mutex', site: 0, by: 'task' });
  }
  const prw = m[t + TASK.percpu_rwsem_read]!;
  if (prw) out.push({ addr: prw, cls: lock_class_name(m[prw + PERCPU_RWSEM.class]!), mode: 'read', site: 0, by: 'task' });
  const prwW = m[v.kg + G.cgroup_threadgroup_rwsem + PERCPU_RWSEM.owner] === t && m[t + TASK.wait_chan] !== WCHAN_PERCPU_RWSEM;
  if (prwW) out.push({ addr: v.kg + G.cgroup_threadgroup_rwsem, cls: lock_class_name(m[v.kg + G.cgroup_threadgroup_rwsem + PERCPU_RWSEM.class]!), mode: 'write', site: 0, by: 'task' });
  const si = m[t + TASK.srcu_idx]!;
  if (si) out.push({ addr: v.kg + G.srcu_exit, cls: `tasks_rcu_exit_srcu`, mode: `read(idx ${si - 1})`, site: 0, by: 'task' });
  return out;
}

/** Build the wait-for graph from the state. */
export function build_waitfor(v: StateView): WaitForGraph {
  const m = v.m;
  const r = v.r;
  const ncpus = m[v.kg + G.ncpus]!;
  const cpuAddr = (i: number): number => r.cpus.base + i * r.cpus.stride;
  const nodes = new Map<string, WaitNode>();
  const edges: WaitEdge[] = [];
  const runningOn = new Map<number, number>();
  for (let i = 0; i < ncpus; i++) {
    const cur = m[cpuAddr(i) + CPU.curr]!;
    if (cur) runningOn.set(cur, i);
  }
  const keyOfTask = (t: number): string => (runningOn.has(t) ? `cpu${runningOn.get(t)}` : `task@${t}`);
  const keyOfCpu = (i: number): string => `cpu${i}`;
  const addEdge = (from: string, to: string, why: string): void => {
    if (!edges.some((e) => e.from === from && e.to === to && e.why === why)) edges.push({ from, to, why });
  };

  // CPUs.
  const heldBy = new Map<number, Array<{ cpu: number; mode: number }>>();
  for (let i = 0; i < ncpus; i++) {
    const c = cpuAddr(i);
    const d = Math.min(m[c + CPU.held_depth]!, 64);
    for (let k = 0; k < d; k++) {
      const e = c + CPU.held + k * HELD_WORDS;
      const l = m[e + HELD_LOCK.lock]!;
      if (!heldBy.has(l)) heldBy.set(l, []);
      heldBy.get(l)!.push({ cpu: i, mode: held_mode(m[e + HELD_LOCK.mode_class]!) });
    }
  }
  for (let i = 0; i < ncpus; i++) {
    const c = cpuAddr(i);
    const cur = m[c + CPU.curr]!;
    const holds = cpu_held(v, i);
    if (cur) holds.push(...task_held(v, cur));
    const node: WaitNode = { key: keyOfCpu(i), kind: 'cpu', cpu: i, task: cur ? task_info(v, cur) : undefined, waiting: '', holds, blocked: false };
    nodes.set(node.key, node);
    const addr = m[c + CPU.wait_addr]!;
    const op = m[c + CPU.wait_op]!;
    if (m[c + CPU.online] === 0) node.waiting = 'offline';
    // Waiting for a run token (src/sched/run_token.ts), or for its turn on the host thread that
    // runs several CPUs (src/sched/mux.ts): holds nothing, runnable, no edge.
    if (m[c + CPU.tok_wait] === 1) node.waiting = m[c + CPU.mux_lead] !== 0 ? 'waiting for its turn on a host thread (runnable)' : 'waiting for a run token (runnable)';
    if (!addr) continue;
    if (op === WAIT_IDLE) { node.waiting = 'idle'; continue; }
    const lock = m[c + CPU.wait_lock]!;
    const mode = m[c + CPU.wait_mode]!;
    node.blocked = true;
    if (mode === HELD_SPIN && lock) {
      const cls = lock_class_name(m[lock + SL_CLASS]!);
      node.waiting = `spinning on ${cls} (${hex(lock)})`;
      const owner = m[lock + SL_OWNER]! - 1;
      if (owner >= 0 && owner !== i) addEdge(node.key, keyOfCpu(owner), `spinlock ${cls}`);
      else if (owner === i) addEdge(node.key, node.key, `spinlock ${cls} (recursive)`);
    } else if ((mode === HELD_READ || mode === HELD_READ_IRQ || mode === HELD_WRITE) && lock) {
      const cls = lock_class_name(m[lock + RW_CLASS]!);
      const what = mode === HELD_WRITE ? 'write_lock' : mode === HELD_READ_IRQ ? 'read_lock (in irq)' : 'read_lock';
      node.waiting = `spinning in ${what} on ${cls} (${hex(lock)})`;
      if (addr === lock + RW_WAIT_OWNER) {
        // Queued on the rwlock's wait_lock: waits for whoever holds it (spinning on cnts).
        let found = false;
        for (let j = 0; j < ncpus; j++) {
          const cj = cpuAddr(j);
          if (j !== i && m[cj + CPU.wait_lock] === lock && m[cj + CPU.wait_addr] === lock + RW_CNTS && m[cj + CPU.wait_mode] !== HELD_READ_IRQ) {
            addEdge(node.key, keyOfCpu(j), `${cls}.wait_lock (queued behind ${m[cj + CPU.wait_mode] === HELD_WRITE ? 'a waiting writer' : 'a reader'})`);
            found = true;
          }
        }
        if (!found) {
          for (let j = 0; j < ncpus; j++) {
            const cj = cpuAddr(j);
            if (j !== i && m[cj + CPU.wait_lock] === lock && m[cj + CPU.wait_addr] === lock + RW_WAIT_OWNER && m[cj + CPU.wait_arg]! < m[c + CPU.wait_arg]!) {
              addEdge(node.key, keyOfCpu(j), `${cls}.wait_lock (earlier ticket)`);
            }
          }
        }
      } else if (mode === HELD_WRITE) {
        for (const h of heldBy.get(lock) ?? []) if (h.cpu !== i || h.mode !== HELD_WRITE) addEdge(node.key, keyOfCpu(h.cpu), `rwlock ${cls} (held for read)`);
        const w = m[lock + RW_WRITER]! - 1;
        if (w >= 0 && w !== i) addEdge(node.key, keyOfCpu(w), `rwlock ${cls} (held for write)`);
      } else {
        const w = m[lock + RW_WRITER]! - 1;
        if (w >= 0) addEdge(node.key, keyOfCpu(w), `rwlock ${cls} (held for write)`);
        else if ((m[lock + RW_CNTS]! & QW_LOCKED) !== 0) {
          // The writer byte is set but RW_WRITER not yet: the writer is between the two stores.
          for (const h of heldBy.get(lock) ?? []) if (h.mode === HELD_WRITE) addEdge(node.key, keyOfCpu(h.cpu), `rwlock ${cls} (held for write)`);
        }
      }
    } else if (lock && addr === lock + TASK.on_cpu) {
      const on = m[lock + TASK.on_cpu]! - 1;
      node.waiting = `waiting for task ${m[lock + TASK.id]} to leave CPU ${on}`;
      if (on >= 0 && on !== i) addEdge(node.key, keyOfCpu(on), 'p->on_cpu');
    } else {
      node.waiting = `spinning on word ${hex(addr)}`;
    }
  }

  // Tasks.
  const tasks = live_tasks(v);
  const gpStarted = m[v.kg + G.rcu + RCU_GP_STARTED]!;
  const gpDone = m[v.kg + G.rcu + RCU_GP_SEQ]!;
  // exit_notify dead lists whose owner can still release them (see the header).
  const deadListOwner = new Map<number, number>();
  for (const u of tasks) {
    const ph = m[u + TASK.exit_phase]!;
    if (ph !== EXP_NOTIFY && ph !== EXP_ZAP) continue;
    for (let d = m[u + TASK.exit_dead]!, k = 0; d && k < 100_000; d = m[d + TASK.dead_next]!, k++) {
      if (d !== u && m[d + TASK.exit_state] === EXIT_DEAD) deadListOwner.set(d, u);
    }
  }
  // A sleeper on the running normal grace period waits for every online, non-idle CPU that has
  // not reported a quiescent state for it.
  const wait_for_gp = (from: string, what: string): void => {
    for (let i = 0; i < ncpus; i++) {
      const c = cpuAddr(i);
      if (m[c + CPU.online] !== 1 || m[c + CPU.idle] === 1) continue;
      if (m[c + CPU.rcu_qs_gp]! < gpStarted) {
        const rd = m[c + CPU.rcu_nesting]! > 0 ? ' (in an RCU read-side section)' : '';
        addEdge(from, keyOfCpu(i), `rcu grace period ${gpStarted}${what}: no quiescent state yet${rd}`);
      }
    }
  };
  // The other threads of t's group that __exit_signal has not released yet (still on the thread
  // ring): thread_group_empty() is false while there is one.
  const unreleased_threads = (t: number): number[] => {
    const out: number[] = [];
    for (let th = m[t + TASK.thread_next]!, k = 0; th && th !== t && k < 100_000; th = m[th + TASK.thread_next]!, k++) out.push(th);
    return out;
  };
  for (const t of tasks) {
    if (runningOn.has(t)) continue;
    const st = m[t + TASK.state]!;
    const es = m[t + TASK.exit_state]!;
    const info = task_info(v, t);
    const node: WaitNode = { key: keyOfTask(t), kind: 'task', task: info, waiting: '', holds: task_held(v, t), blocked: false };
    nodes.set(node.key, node);
    if (es === EXIT_ZOMBIE) {
      // delay_group_leader: a zombie leader is reapable only once thread_group_empty(), when
      // __exit_signal has released every other thread (a live one, a traced zombie thread its
      // tracer has not reaped, an EXIT_DEAD one whoever marked it has not released yet). Until
      // then it waits for them, not for its parent: no wait4 can take it (a waiting parent's
      // edges go to those threads too), so a reap edge would close cycles that are none.
      const threads = m[t + TASK.group_leader] === t ? unreleased_threads(t) : [];
      if (threads.length) {
        node.waiting = 'zombie group leader, reaped after its other threads are released';
        node.blocked = true;
        for (const th of threads) {
          addEdge(node.key, keyOfTask(th), m[th + TASK.exit_state] === 0
            ? 'thread group not empty: a zombie leader is reaped after its last thread (delay_group_leader)'
            : 'thread group not empty: a zombie leader is reaped after its exited threads are released (delay_group_leader)');
        }
        continue;
      }
      node.waiting = 'zombie, waiting to be reaped';
      const p = m[t + TASK.parent]!;
      if (p) addEdge(node.key, keyOfTask(p), 'reap (wait4 by the parent)');
      continue;
    }
    const owner = es === EXIT_DEAD ? deadListOwner.get(t) : undefined;
    if (owner !== undefined) {
      node.waiting = 'EXIT_DEAD on an exiting task\'s exit_notify dead list, waiting for its release_task';
      node.blocked = true;
      addEdge(node.key, keyOfTask(owner), 'EXIT_DEAD on the exiting task\'s local dead list: freed by its release_task of the list');
      continue;
    }
    if (st === 0 || st === TASK_DEAD) {
      node.waiting = st === 0 ? (m[t + TASK.on_rq] ? 'runnable (on a runqueue)' : 'runnable') : 'dead';
      continue;
    }
    if (st === TASK_NEW) {
      // A child copy_process built; its parent wakes it (wake_up_new_task): it waits for nothing.
      node.waiting = 'new (not yet woken by wake_up_new_task)';
      continue;
    }
    node.blocked = true;
    const wchan = m[t + TASK.wait_chan]!;
    const obj = m[t + TASK.wait_obj]!;
    const arg = m[t + TASK.wq_arg]!;
    node.waiting = `sleeping in ${info.wchan}`;
    switch (wchan) {
      case WCHAN_MUTEX: {
        const owner = m[obj + MX_OWNER]!;
        const cls = lock_class_name(m[obj + MX_CLASS]!);
        node.waiting = `sleeping in mutex_lock on ${cls} (${hex(obj)})`;
        if (owner && owner !== t) addEdge(node.key, keyOfTask(owner), `mutex ${cls}`);
        else if (owner === t) addEdge(node.key, node.key, `mutex ${cls} (recursive)`);
        break;
      }
      case WCHAN_PERCPU_RWSEM: {
        const cls = lock_class_name(m[obj + PERCPU_RWSEM.class]!);
        if (arg === PRW_WAIT_READERS) {
          node.waiting = `sleeping in percpu_down_write on ${cls} (${hex(obj)}), waiting for readers`;
          for (const u of tasks) {
            if (u !== t && m[u + TASK.percpu_rwsem_read] === obj) addEdge(node.key, keyOfTask(u), `percpu_rw_semaphore ${cls} (read side)`);
          }
        } else {
          const owner = m[obj + PERCPU_RWSEM.owner]!;
          node.waiting = `sleeping in percpu_rwsem_wait (${arg === PRW_WAIT_READER ? 'percpu_down_read' : 'percpu_down_write'}) on ${cls} (${hex(obj)})`;
          if (owner && owner !== t) addEdge(node.key, keyOfTask(owner), `percpu_rw_semaphore ${cls} (write side)`);
        }
        break;
      }
      case WCHAN_RCU_GP: {
        node.waiting = `sleeping in synchronize_rcu for grace period ${arg} (completed ${gpDone})`;
        if (gpDone < arg) wait_for_gp(node.key, '');
        break;
      }
      case WCHAN_SRCU_GP: {
        const ssp = v.kg + G.srcu_exit;
        if (arg < 0) {
          const owner = m[ssp + SRCU_GP_OWNER]!;
          node.waiting = 'sleeping in synchronize_srcu for the running SRCU grace period';
          if (owner && owner !== t) addEdge(node.key, keyOfTask(owner), 'srcu grace period owner (tasks_rcu_exit_srcu)');
        } else {
          const idx = arg; // the index the owner's scan (SCAN1 or SCAN2) waits to drain
          node.waiting = `sleeping in synchronize_srcu(tasks_rcu_exit_srcu) draining readers of index ${idx}`;
          for (const u of tasks) {
            if (u !== t && m[u + TASK.srcu_idx] === idx + 1) addEdge(node.key, keyOfTask(u), `srcu read side (tasks_rcu_exit_srcu idx ${idx})`);
          }
        }
        break;
      }
      case WCHAN_RCU_TASKS: {
        // The holdout loop polls once per normal grace period (wq_arg: the one it sleeps for; the
        // kernel's schedule_timeout_idle): until that ends, the CPUs that owe it a quiescent
        // state; then check_holdout_task lets go every holdout that is asleep, switched
        // voluntarily since its snapshot or died. The ones it keeps - still on a runqueue or
        // running, nvcsw unchanged (src/rcu/tasks.ts check_all_holdouts) - are waited for. A
        // holdout asleep is none: an edge to it would close cycles through tasks that no longer
        // hold the grace period (a waiting parent, say).
        node.waiting = `sleeping in synchronize_rcu_tasks (holdout loop, polls after grace period ${arg})`;
        if (gpDone < arg) wait_for_gp(node.key, ' (the rcu-tasks holdout poll)');
        for (const u of tasks) {
          if (u === t || !m[u + TASK.rcu_tasks_holdout]) continue;
          if (m[u + TASK.state] !== TASK_RUNNING || m[u + TASK.rcu_tasks_nvcsw] !== m[u + TASK.nvcsw]) continue;
          addEdge(node.key, keyOfTask(u), u === obj ? 'rcu-tasks holdout (the one it polls)' : 'rcu-tasks holdout');
        }
        break;
      }
      case WCHAN_WAIT4: {
        // __do_wait scans the children and tracees of every thread of the caller's group (or the
        // one task of a wait for a pid: wait_obj) and sleeps while wait_consider_task left
        // notask_error 0 for one of them: an alive one, or a zombie it cannot reap yet - a group
        // leader with threads not yet released (delay_group_leader), or a zombie traced by a task
        // outside the caller's group (its tracer hands it back). EXIT_DEAD ones are skipped, as
        // wait_consider_task skips them; a zombie it could reap now is a lost wake-up: no edge.
        node.waiting = 'sleeping in do_wait (wait4) for a child';
        const consider = (ch: number, ptrace: boolean): void => {
          if (obj && ch !== obj) return;
          const ces = m[ch + TASK.exit_state]!;
          if (ces === 0) addEdge(node.key, keyOfTask(ch), ptrace ? 'tracee (wait4)' : 'child (wait4)');
          else if (ces !== EXIT_ZOMBIE) return;
          else if (m[ch + TASK.group_leader] === ch && unreleased_threads(ch).length) {
            // What the wait needs is the release of the leader's other threads: the edge goes to
            // them, not to the zombie (which waits for us: a cycle that is none while they live).
            for (const th of unreleased_threads(ch)) {
              addEdge(node.key, keyOfTask(th), 'a thread of a zombie leader child (wait4): the leader is reapable once it is released (delay_group_leader)');
            }
          } else if (!ptrace && m[ch + TASK.ptrace] !== 0 && m[m[ch + TASK.parent]! + TASK.signal] !== m[t + TASK.signal]) {
            addEdge(node.key, keyOfTask(ch), 'zombie traced by another task (wait4): handed back when its tracer lets it go');
          }
        };
        for (let w = t, k = 0; w && k < 100_000; k++) {
          for (let ch = m[w + TASK.children]!, n = 0; ch && n < 100_000; ch = m[ch + TASK.sibling_next]!, n++) consider(ch, false);
          for (let ch = m[w + TASK.ptraced]!, n = 0; ch && n < 100_000; ch = m[ch + TASK.ptrace_next]!, n++) consider(ch, true);
          w = m[w + TASK.thread_next]!;
          if (w === t) break;
        }
        break;
      }
      case WCHAN_ZAP_PIDS: {
        const ns = obj;
        const lvl = ns ? m[ns + PIDNS.level]! : 0;
        node.waiting = `sleeping in zap_pid_ns_processes (pid_allocated ${ns ? m[ns + PIDNS.pid_allocated]! & 0x7fffffff : '?'})`;
        // A thread that is not the group leader waits for pid_allocated == 2 (wq_arg): its own
        // pid and its zombie leader's, which is reaped after its last thread - not a pid it waits for.
        const leader = m[t + TASK.group_leader]!;
        const skipLeader = leader !== t && m[t + TASK.wq_arg] === 2;
        for (const u of tasks) {
          if (u === t || (skipLeader && u === leader)) continue;
          const pid = m[u + TASK.pid]!;
          if (!pid || m[pid + PID.level]! < lvl) continue;
          if (m[pid + PID.SIZE + lvl * UPID_WORDS + UPID_NS] === ns) addEdge(node.key, keyOfTask(u), 'pid still in the namespace');
        }
        break;
      }
      case WCHAN_PAUSE:
        node.waiting = 'sleeping in pause (waits for a signal)';
        node.blocked = false;
        break;
      case WCHAN_SIGNAL_STOP:
        // A job-control stop is a state of the process, not a kernel wait: SIGCONT or SIGKILL ends it.
        node.waiting = 'stopped (do_signal_stop: waits for SIGCONT or SIGKILL)';
        node.blocked = false;
        break;
      case WCHAN_WAITQ:
        node.waiting = `sleeping in wait_event on ${hex(obj)}`;
        break;
      case WCHAN_PTRACE_STOP: {
        // A ptrace stop is the tracee's state until its tracer acts (PTRACE_CONT / DETACH), not a
        // kernel wait of its own: not blocked. It waits for the tracer only while the tracer can
        // still resume it - alive and not exiting (exit_ptrace lets every tracee go).
        node.waiting = 'stopped for its tracer (ptrace_stop, TASK_TRACED)';
        node.blocked = false;
        const tracer = m[t + TASK.ptrace] !== 0 ? m[t + TASK.parent]! : 0;
        if (tracer && tracer !== t && tasks.includes(tracer) && m[tracer + TASK.exit_state] === 0 && (m[tracer + TASK.flags]! & PF_EXITING) === 0) {
          addEdge(node.key, keyOfTask(tracer), 'ptrace stop: resumed only by its tracer (PTRACE_CONT, PTRACE_DETACH)');
        }
        break;
      }
      case WCHAN_DE_THREAD: {
        // execve's de_thread: notify_count > 0 waits until __exit_signal released every other
        // thread (a zombie thread waits for its reaper: a traced one for its tracer's wait4);
        // < 0 waits for the other threads that have not exited to pass exit_notify (today -1:
        // the old leader, the others are gone by then; the unmerged 2025 RFC: all of them).
        const sig = m[t + TASK.signal]!;
        const nc = m[sig + SIG.notify_count]!;
        const leader = m[t + TASK.group_leader]!;
        node.waiting = nc < 0 ? 'sleeping in de_thread (execve) for the other threads to exit' : `sleeping in de_thread (execve) for ${nc} other thread(s) to be released`;
        if (nc < 0) {
          for (let u = m[t + TASK.thread_next]!, k = 0; u && u !== t && k < 100_000; u = m[u + TASK.thread_next]!, k++) {
            if (m[u + TASK.exit_state] === 0) addEdge(node.key, keyOfTask(u), 'de_thread: every other thread must pass exit_notify');
          }
        } else if (nc > 0) {
          for (let u = m[t + TASK.thread_next]!, k = 0; u && u !== t && k < 100_000; u = m[u + TASK.thread_next]!, k++) {
            if (u === leader && leader !== t) continue; // a zombie leader is released by the swap
            if (m[u + TASK.exit_state] === EXIT_DEAD) continue; // being released by whoever marked it
            addEdge(node.key, keyOfTask(u), 'de_thread: every other thread must be released (__exit_signal)');
          }
        }
        break;
      }
      case WCHAN_PIDFD_POLL:
        // Only do_notify_pidfd (exit_notify of the pid's task) wakes it: no edge to a waker.
        node.waiting = `polling a pidfd of pid ${hex(obj)} (woken by do_notify_pidfd)`;
        break;
      case WCHAN_VFORK:
        node.waiting = 'sleeping in wait_for_vfork_done';
        if (obj && tasks.includes(obj)) addEdge(node.key, keyOfTask(obj), 'vfork child');
        break;
      default:
        break;
    }
  }
  const cycles = find_cycles([...nodes.keys()], edges);
  const blocked = [...nodes.values()].filter((n) => n.blocked).map((n) => n.key);
  return { nodes: [...nodes.values()], edges, cycles, blocked, rcu: { completed: gpDone, started: gpStarted } };
}

/** Elementary cycles, one per strongly connected component (Tarjan), plus self-loops. */
export function find_cycles(keys: string[], edges: WaitEdge[]): string[][] {
  const adj = new Map<string, string[]>();
  for (const k of keys) adj.set(k, []);
  for (const e of edges) {
    if (!adj.has(e.from)) adj.set(e.from, []);
    if (!adj.has(e.to)) adj.set(e.to, []);
    adj.get(e.from)!.push(e.to);
  }
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const sccs: string[][] = [];
  const strong = (v0: string): void => {
    // Iterative Tarjan (graphs can be thousands of tasks deep).
    const work: Array<{ v: string; i: number }> = [{ v: v0, i: 0 }];
    idx.set(v0, index); low.set(v0, index); index++; stack.push(v0); onStack.add(v0);
    while (work.length) {
      const fr = work[work.length - 1]!;
      const succ = adj.get(fr.v)!;
      if (fr.i < succ.length) {
        const w = succ[fr.i++]!;
        if (!idx.has(w)) {
          idx.set(w, index); low.set(w, index); index++; stack.push(w); onStack.add(w);
          work.push({ v: w, i: 0 });
        } else if (onStack.has(w)) low.set(fr.v, Math.min(low.get(fr.v)!, idx.get(w)!));
        continue;
      }
      work.pop();
      if (work.length) { const p = work[work.length - 1]!.v; low.set(p, Math.min(low.get(p)!, low.get(fr.v)!)); }
      if (low.get(fr.v) === idx.get(fr.v)) {
        const comp: string[] = [];
        for (;;) { const w = stack.pop()!; onStack.delete(w); comp.push(w); if (w === fr.v) break; }
        sccs.push(comp);
      }
    }
  };
  for (const k of adj.keys()) if (!idx.has(k)) strong(k);
  const out: string[][] = [];
  for (const comp of sccs) {
    if (comp.length === 1) {
      const k = comp[0]!;
      if (adj.get(k)!.includes(k)) out.push([k]);
      continue;
    }
    // One elementary cycle through the component: BFS back to the start inside the component.
    const inC = new Set(comp);
    const start = [...comp].sort()[0]!;
    const prev = new Map<string, string>();
    const q = [start];
    let closing: string | undefined;
    while (q.length && !closing) {
      const a = q.shift()!;
      for (const b of adj.get(a)!) {
        if (!inC.has(b)) continue;
        if (b === start) { closing = a; break; }
        if (!prev.has(b)) { prev.set(b, a); q.push(b); }
      }
    }
    if (!closing) continue;
    const cyc: string[] = [];
    for (let x: string | undefined = closing; x && x !== start; x = prev.get(x)) cyc.push(x);
    cyc.push(start);
    out.push(cyc.reverse());
  }
  return out;
}
