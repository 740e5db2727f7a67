/**
 * Reports of a stuck or broken run, read from the model's state: kernel-style text (what dmesg
 * would show: hung tasks, soft lockups, the wait-for cycle, lockdep splats, BUG lines) and the
 * same content as JSON for machines.
 */
import { CPU, RCU_GP_SEQ, G, SIG, TASK } from '../mm/layout.js';
import { syscall_name } from '../kernel/entry.js';
import { WCHAN_NAMES } from '../sched/core.js';
import { guard_violation_text, is_guard_violation, site_of } from './guard_report.js';
import { VIOLATION_NAMES, V_HUNG_TASK, V_LOST_WAKEUP, V_INVARIANT, V_LOCK_HELD_USER, V_MUTUAL_EXCLUSION, V_RCU_USE_AFTER_FREE, V_BAD_UNLOCK, type Violation } from '../locking/violations.js';
import { lock_class_name } from '../locking/lockdep.js';
import { SLAB_TASK } from '../mm/memory.js';
import { INV_SLAB_DOUBLE_FREE, INV_SLAB_FREE_RCU_QUEUED } from '../mm/slab.js';
import { INV_RCU_HEAD_QUEUED_TWICE, INV_RCU_NOT_WATCHING } from '../rcu/rcu.js';
import { LIST_DEBUG, SIBLING_HIST, SL_CLASS } from '../mm/layout.js';
import { build_waitfor, hex, task_info, type StateView, type WaitForGraph, type WaitNode } from './waitfor.js';
import { lockdep_findings, who, type LockdepFinding } from './lockdep_report.js';
import { INV_TASK_TREE, INVARIANT_NAMES } from '../stress/checks.js';
import { INV_PIDS_CHARGE_AFTER_RELEASE, INV_PIDS_COUNTER_NEGATIVE } from '../kernel/cgroup_pids.js';
import { INV_FILE_REFCOUNT, INV_NS_REFCOUNT, INV_NS_USE_AFTER_FREE, INV_NSPROXY_REFCOUNT } from '../kernel/ns_common.js';
import { INV_FREE_PID_TASKLIST_HELD, INV_PID_COUNT_UNDERFLOW, INV_PIDNS_ADDING_WITH_REAPER } from '../kernel/pid.js';
import { INV_TASK_USAGE_UNDERFLOW } from '../kernel/exit.js';
import {
  INV_DE_THREAD_REAL_PARENT, INV_TASK_LIST_CORRUPTION, JOBCTL_PENDING_MASK, JOBCTL_STOPPED, JOBCTL_TRACED, LD_CHECK_NAMES, LD_TREE_CHECK, SH_NAMES, sibling_hist_decode,
  SIGNAL_GROUP_EXIT, SIGNAL_STOP_STOPPED,
} from '../kernel/sched_task.js';
import { INV_KILLED_BY_EXIT_SIGNAL, INV_PIDNS_INIT_NOT_LAST, INV_WAIT_REAPED_TWICE, INV_WAIT_SPURIOUS_ECHILD } from '../kernel/user_assertions.js';

/**
 * The names of the kernel's own invariant codes (V_INVARIANT records from kernel code: audit
 * codes, WARN_ONs, the user-space assertions), beside the stress checker's INVARIANT_NAMES: every
 * code a report can carry has its name here, whether or not a scenario module was loaded
 * (test/invariant_names.test.ts checks every INV_ constant of src/).
 */
export const KERNEL_INVARIANT_NAMES: Record<number, string> = {
  [INV_NS_USE_AFTER_FREE]: 'namespace used after free',
  [INV_NS_REFCOUNT]: 'namespace reference count underflow',
  [INV_NSPROXY_REFCOUNT]: 'nsproxy reference count underflow',
  [INV_FILE_REFCOUNT]: 'file reference count underflow',
  [INV_PIDNS_ADDING_WITH_REAPER]: 'free_pid: a pid namespace\'s first pid freed (PIDNS_ADDING) while it has a child_reaper (WARN_ON)',
  [INV_FREE_PID_TASKLIST_HELD]: 'free_pid with tasklist_lock held (lockdep_assert_not_held)',
  [INV_PID_COUNT_UNDERFLOW]: 'put_pid on a struct pid whose count was already 0',
  [INV_PIDNS_INIT_NOT_LAST]: 'pid namespace init reaped while pids of the namespace remain',
  [INV_KILLED_BY_EXIT_SIGNAL]: 'a process was killed by a child\'s exit signal meant for another parent',
  [INV_WAIT_SPURIOUS_ECHILD]: 'wait4 returned ECHILD while the named pid was still the caller\'s child',
  [INV_WAIT_REAPED_TWICE]: 'wait4 reported a child that the caller had already reaped',
  [INV_PIDS_CHARGE_AFTER_RELEASE]: 'fork refused by the pids controller while released tasks still held the charges that made the difference',
  [INV_PIDS_COUNTER_NEGATIVE]: 'pids cgroup counter below zero',
  [INV_TASK_LIST_CORRUPTION]: 'task list corruption (CONFIG_DEBUG_LIST): a change of a children, ptrace or process list on a task that is not where the list says',
  [INV_TASK_USAGE_UNDERFLOW]: 'put_task_struct or put_task_struct_rcu_user on a task whose count was already 0',
  [INV_SLAB_DOUBLE_FREE]: 'kmem_cache_free of an object already freed (KASAN: double-free)',
  [INV_RCU_NOT_WATCHING]: 'rcu_read_lock() used illegally while idle (RCU_LOCKDEP_WARN(!rcu_is_watching()))',
  [INV_RCU_HEAD_QUEUED_TWICE]: 'call_rcu of an rcu_head already queued: "__call_rcu(): Leaked duplicate callback" (debug objects)',
  [INV_SLAB_FREE_RCU_QUEUED]: 'kmem_cache_free of an object whose rcu_head is still queued (debug objects: free of an active rcu_head)',
  [INV_DE_THREAD_REAL_PARENT]: 'de_thread: the exec\'ing thread\'s real_parent differs from its leader\'s',
};
export function invariant_name(code: number): string {
  return INVARIANT_NAMES[code] ?? KERNEL_INVARIANT_NAMES[code] ?? `invariant 0x${code.toString(16)}`;
}

export interface StuckReport {
  /** Why the report was taken: deadlock (controlled), hung (watchdog), crashed, limit ... */
  reason: string;
  /** Bound the watchdog used, in ms (hung), or 0. */
  timeoutMs: number;
  graph: WaitForGraph;
  text: string;
}

/** A system call argument: small numbers in decimal, flag words and addresses in hex. */
function arg_text(x: number): string {
  return x >= -4096 && x <= 4096 ? String(x) : `0x${(x >>> 0).toString(16)}`;
}

function secs(ms: number): string {
  const s = ms / 1000;
  return String(s >= 10 ? Math.round(s) : Math.round(s * 100) / 100);
}

function held_lines(n: WaitNode, owner: string): string[] {
  if (!n.holds.length) return [`no locks held by ${owner}.`];
  const out = [`${n.holds.length} lock${n.holds.length > 1 ? 's' : ''} held by ${owner}:`];
  n.holds.forEach((h, i) => {
    out.push(` #${i}: ${hex(h.addr)} (${h.cls}){${h.mode}}${h.site ? `, at: site ${h.site}` : ''}${h.by === 'task' && h.mode !== 'mutex' ? ' (task)' : ''}`);
  });
  return out;
}

/** NAME:PID as the kernel prints a task; a task without a struct pid shows its task id as tN. */
export function comm_pid(t: { name: string; pid: number; id: number }): string {
  return `${t.name}:${t.pid > 0 ? t.pid : `t${t.id}`}`;
}

function node_title(n: WaitNode): string {
  if (n.kind === 'cpu') return n.task ? `CPU#${n.cpu} running ${comm_pid(n.task)}` : `CPU#${n.cpu} (no task)`;
  return `task ${comm_pid(n.task!)}`;
}

function nspid(n: WaitNode): string {
  return n.task && n.task.nspid.length ? `NSpid:\t${n.task.nspid.join('\t')}` : n.task ? `(no struct pid: kernel thread, task id ${n.task.id})` : '';
}

/** Text of one blocked node, in the shape of the kernel's hung-task / soft-lockup messages. */
function node_text(n: WaitNode, g: WaitForGraph, timeoutMs: number, nowMs31: number, reason: string): string[] {
  const out: string[] = [];
  const outgoing = g.edges.filter((e) => e.from === n.key);
  // The hung-task watchdog says its bound; a controlled deadlock says how long the task slept.
  // A task that never went through schedule() has no sleep stamp: no duration to tell.
  const blockedMs = (since: number): number => (timeoutMs > 0 ? timeoutMs : since === 0 ? 0 : (nowMs31 - since + 0x80000000) % 0x80000000);
  if (n.kind === 'task') {
    const t = n.task!;
    out.push(`INFO: task ${comm_pid(t)} blocked for more than ${secs(blockedMs(t.sleepSince))} seconds.`);
    out.push(`      Not tainted pidrace (model)${reason === 'deadlock' ? ' [controlled run: no CPU can run]' : ''}`);
    out.push('"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.');
    out.push(`task:${t.name.padEnd(15)} state:${t.state} stack:0     pid:${t.pid > 0 ? t.pid : `t${t.id}`}     ppid:${t.parentPid}    flags:0x00000000`);
    const ns = nspid(n);
    if (ns) out.push(ns);
    out.push('Call Trace:', ' <TASK>', ' __schedule', ' schedule');
    if (t.wchan !== '-') out.push(` ${t.wchan}`);
    if (t.syscall) out.push(` ${t.syscall}`);
    out.push(' </TASK>');
    // The pending call as the program made it (the model's argument order, not the x86 ABI's
    // registers): which wait, for which pid with which flags, a reader needs to judge a hang.
    if (t.syscall) out.push(`  called as ${t.syscall}(${t.syscallArgs.map(arg_text).join(', ')})`);
  } else {
    const t = n.task;
    out.push(`watchdog: BUG: soft lockup - CPU#${n.cpu} stuck for ${secs(timeoutMs > 0 ? timeoutMs : 0)}s! [${t ? comm_pid(t) : 'swapper/' + n.cpu}]`);
    if (t) {
      const ns = nspid(n);
      if (ns) out.push(ns);
      if (t.syscall) out.push(`in ${t.syscall}`);
    }
    out.push(`  ${n.waiting}`);
  }
  for (const e of outgoing) {
    const to = g.nodes.find((x) => x.key === e.to);
    out.push(`  waits for ${to ? node_title(to) : e.to} (${e.why})`);
  }
  const owner = n.task ? comm_pid(n.task).replace(':', '/') : `CPU#${n.cpu}`;
  out.push(...held_lines(n, owner));
  return out;
}

/**
 * Where the chains of waits from `from` end: the nodes some node of `from` waits for that are not
 * blocked themselves (running, runnable, stopped or traced) and are not in `from`.
 */
function chain_ends(g: WaitForGraph, from: Set<string>): WaitNode[] {
  return g.nodes.filter((n) => !n.blocked && !from.has(n.key) && g.edges.some((e) => e.to === n.key && from.has(e.from)));
}

/** The task a chain end is, or runs (0 for an idle CPU). */
function chain_end_task(v: StateView, n: WaitNode): number {
  return n.kind === 'cpu' ? v.m[v.r.cpus.base + n.cpu! * v.r.cpus.stride + CPU.curr]! : Number(n.key.slice('task@'.length));
}

/**
 * Why task t does not end the waits on it, in words: its state, where it runs or is queued, its
 * job-control and group state, its tracer, its group's live threads and its parent. A chain that
 * ends at a task in a job-control stop nobody continues is a user-space hang of the mix's
 * programs, not the kernel's; one that ends at a runnable task that never runs is the scheduler's.
 */
function task_state_words(v: StateView, t: number): string[] {
  const m = v.m;
  const info = task_info(v, t);
  let running = -1;
  for (let i = 0, ncpus = m[v.kg + G.ncpus]!; i < ncpus; i++) if (m[v.r.cpus.base + i * v.r.cpus.stride + CPU.curr] === t) running = i;
  const sig = m[t + TASK.signal]!;
  const sflags = sig ? m[sig + SIG.flags]! : 0;
  const jc = m[t + TASK.jobctl]!;
  const what: string[] = [`state ${info.state}`];
  if (info.exitState) what.push(info.exitState);
  what.push(running >= 0 ? `running on CPU#${running}` : m[t + TASK.on_rq] ? `queued on CPU#${m[t + TASK.cpu]}` : 'on no runqueue');
  if (jc & JOBCTL_STOPPED) what.push('in a job-control stop (JOBCTL_STOPPED)');
  if (jc & JOBCTL_TRACED) what.push('in a ptrace stop (JOBCTL_TRACED)');
  if (jc & JOBCTL_PENDING_MASK) what.push(`jobctl pending 0x${(jc & JOBCTL_PENDING_MASK).toString(16)}`);
  if (sflags & SIGNAL_STOP_STOPPED) what.push('its group stopped (SIGNAL_STOP_STOPPED)');
  if (sflags & SIGNAL_GROUP_EXIT) what.push('its group exiting');
  if (m[t + TASK.ptrace]) {
    const tr = m[t + TASK.parent]!;
    what.push(`traced by ${tr ? comm_pid(task_info(v, tr)) : '?'}`);
  }
  if (sig) what.push(`${m[sig + SIG.live]} live thread(s) in its group`);
  if (info.parentPid) what.push(`parent pid ${info.parentPid}`);
  // A zombie waits for its parent's wait: say what the parent is doing instead (its own parent
  // left out, so this stays one level deep). Session 9's hangs ended at zombies whose parent was
  // neither blocked nor named anywhere else in the report.
  const parent = m[t + TASK.parent]!;
  if (info.exitState === 'zombie' && parent && parent !== t) {
    const p = task_info(v, parent);
    const pwhat = [`state ${p.state}`];
    if (p.exitState) pwhat.push(p.exitState);
    if (p.wchan !== '-') pwhat.push(`asleep in ${p.wchan}`);
    if (p.syscall) pwhat.push(`in ${p.syscall}`);
    if (m[parent + TASK.jobctl]! & JOBCTL_STOPPED) pwhat.push('in a job-control stop');
    what.push(`(${p.name}:${p.pid}: ${pwhat.join(', ')})`);
  }
  return what;
}

/**
 * A chain end's own block: the CPU or task, its state in words, its system call, the site of the
 * CPU's last scheduling hook (CPU.site) and the locks it holds.
 */
function holder_text(v: StateView, n: WaitNode): string[] {
  const t = n.task;
  const what = n.kind === 'cpu' ? `CPU#${n.cpu} ${t ? `running ${comm_pid(t)}` : '(no task)'}` : `task ${comm_pid(t!)} (state ${t!.state})`;
  const out = [`${what}: waited for above, not blocked itself${n.waiting ? ` (${n.waiting})` : ''}`];
  if (t) {
    const ns = nspid(n);
    if (ns) out.push(ns);
    if (t.syscall) out.push(`in ${t.syscall}`);
    const addr = chain_end_task(v, n);
    if (addr) out.push(`  ${task_state_words(v, addr).join(', ')}`);
  }
  if (n.kind === 'cpu') out.push(`  last scheduling hook at site ${v.m[v.r.cpus.base + n.cpu! * v.r.cpus.stride + CPU.site]}`);
  out.push(...held_lines(n, t ? comm_pid(t).replace(':', '/') : `CPU#${n.cpu}`));
  return out;
}

/** A worker's JS exception, as the run supervisor saw it. */
export interface CrashInfo {
  cpu: number;
  task: number;
  message: string;
  stack?: string;
}

/** The JS stack as a call trace: one frame a line, paths from the project root. */
function call_trace(stack: string | undefined): string[] {
  const out: string[] = [];
  for (const l of (stack ?? '').split('\n')) {
    const m = /^\s+at (?:(.+?) \()?(?:file:\/\/)?(.+?):(\d+):\d+\)?$/.exec(l);
    if (!m || m[2]!.includes('/node_modules/')) continue;
    const file = m[2]!.replace(/^.*?\/(?:dist\/)?(src|workers)\//, '$1/');
    out.push(` ${m[1] ?? '<anonymous>'} (${file}:${m[3]})`);
  }
  return out;
}

/**
 * The oops of a CPU that threw inside the kernel, as the kernel prints a BUG: the BUG line (a
 * NULL dereference for a read through undefined/null, a stack overflow, else "kernel BUG at" the
 * first frame), the Oops line with the JS error, the CPU and task, and its call trace.
 */
export function crash_lines(v: StateView, c: CrashInfo): string[] {
  const L: string[] = [];
  const frames = call_trace(c.stack);
  const name = /^(\w*Error)\b/.exec(c.stack ?? '')?.[1] ?? 'Error';
  if (/Cannot read properties of (undefined|null)|Cannot set properties of (undefined|null)|is not a function/.test(c.message)) {
    L.push('BUG: kernel NULL pointer dereference, address: 0000000000000000');
  } else if (/Maximum call stack size exceeded/.test(c.message)) {
    L.push(`BUG: TASK stack guard page was hit (kernel stack overflow)`);
  } else {
    const at = /\(([^()]+:\d+)\)$/.exec(frames[0] ?? '')?.[1];
    L.push(at ? `kernel BUG at ${at}!` : 'kernel BUG!');
  }
  L.push(`Oops: ${name}: ${c.message} [#1] SMP`);
  const t = c.task ? task_info(v, c.task) : undefined;
  L.push(`CPU: ${c.cpu} UID: 0 PID: ${t ? (t.pid > 0 ? t.pid : `t${t.id}`) : 0} Comm: ${t ? t.name : `swapper/${c.cpu}`} Not tainted pidrace (model)`);
  if (t) {
    if (t.nspid.length) L.push(`NSpid:\t${t.nspid.join('\t')}`);
    if (t.syscall) L.push(`in ${t.syscall}`);
  }
  L.push('Call Trace:', ' <TASK>', ...frames, ' </TASK>');
  return L;
}

/** What the run supervisor adds to a stuck report: the CPU a soft lockup caught, a crash. */
export interface StuckExtra {
  lockup?: { cpu: number; ms: number };
  crash?: CrashInfo;
}

/**
 * The summary of a hang without a cycle: one line per task its chains end at (chain_ends from the
 * blocked nodes), with task_state_words.
 */
function chain_end_lines(v: StateView, g: WaitForGraph): string[] {
  const out: string[] = [];
  for (const n of chain_ends(g, new Set(g.blocked))) {
    if (n.kind !== 'task') continue;
    const t = chain_end_task(v, n);
    const info = task_info(v, t);
    out.push(`  chain ends at ${comm_pid(info)}${info.nspid.length > 1 ? ` [NSpid ${info.nspid.join(' ')}]` : ''}: ${task_state_words(v, t).join(', ')}`);
  }
  return out;
}

/**
 * The wait-for report (deadlock in controlled mode, or the hung-task watchdog). A crash leads with
 * its oops; a soft lockup (the controlled-mode watchdog) leads with the CPU it caught.
 */
export function stuck_report(v: StateView, reason: string, timeoutMs: number, nowMs31 = Date.now() & 0x7fffffff, extra: StuckExtra = {}): StuckReport {
  const g = build_waitfor(v);
  const lines: string[] = [];
  if (extra.crash) lines.push(...crash_lines(v, extra.crash), '');
  const lockNode = extra.lockup ? g.nodes.find((n) => n.kind === 'cpu' && n.cpu === extra.lockup!.cpu) : undefined;
  if (lockNode) {
    if (!lockNode.waiting) lockNode.waiting = `looping in the kernel: no scheduling hook since site ${v.m[v.r.cpus.base + lockNode.cpu! * v.r.cpus.stride + CPU.site]}`;
    lines.push(...node_text(lockNode, g, extra.lockup!.ms, nowMs31, reason), '');
  }
  const inCycle = new Set(g.cycles.flat());
  const crashed = extra.crash?.task ? `task@${extra.crash.task}` : '';
  const order = [...g.nodes.filter((n) => inCycle.has(n.key)), ...g.nodes.filter((n) => n.blocked && !inCycle.has(n.key) && n !== lockNode && n.key !== crashed)];
  for (const n of order) lines.push(...node_text(n, g, timeoutMs, nowMs31, reason), '');
  // The CPUs and tasks those waits end at that are not blocked themselves (a lock holder still
  // running or runnable, a soft lockup's holder): what each runs, where, what it holds.
  const printed = new Set([...order.map((n) => n.key), ...(lockNode ? [lockNode.key] : [])]);
  for (const n of chain_ends(g, printed)) lines.push(...holder_text(v, n), '');
  lines.push('======================================================');
  if (g.cycles.length) {
    lines.push(`${reason === 'deadlock' ? 'DEADLOCK' : 'INFO'}: ${g.cycles.length} wait-for cycle${g.cycles.length > 1 ? 's' : ''} (pidrace wait-for graph, from shared memory)`);
    g.cycles.forEach((c, i) => {
      lines.push(`cycle ${i + 1}:`);
      c.forEach((k, j) => {
        const n = g.nodes.find((x) => x.key === k)!;
        const next = c[(j + 1) % c.length]!;
        const e = g.edges.find((x) => x.from === k && x.to === next);
        const nn = g.nodes.find((x) => x.key === next);
        lines.push(`  ${node_title(n)}${n.task && n.task.nspid.length > 1 ? ` [NSpid ${n.task.nspid.join(' ')}]` : ''}: ${n.kind === 'task' ? `in ${n.task!.wchan}` : n.waiting}`);
        lines.push(`    -> waits for ${e?.why ?? '?'} held by ${nn ? node_title(nn) : next}`);
      });
    });
  } else {
    lines.push(`${reason.toUpperCase()}: ${g.blocked.length} blocked, no wait-for cycle: the chains end at a wait nobody will end`);
    lines.push(...chain_end_lines(v, g));
  }
  lines.push(`rcu: grace periods completed ${g.rcu.completed}, started ${g.rcu.started}`);
  return { reason, timeoutMs, graph: g, text: lines.join('\n') };
}

export function stuck_json(s: StuckReport): Record<string, unknown> {
  const byKey = new Map(s.graph.nodes.map((n) => [n.key, n]));
  const nodeJson = (n: WaitNode): Record<string, unknown> => ({
    key: n.key, kind: n.kind, cpu: n.cpu,
    task: n.task ? { name: n.task.name, pid: n.task.pid, nspid: n.task.nspid, id: n.task.id, state: n.task.state, wchan: n.task.wchan, syscall: n.task.syscall, exit_state: n.task.exitState || undefined } : undefined,
    waiting: n.waiting, holds: n.holds.map((h) => ({ lock: hex(h.addr), class: h.cls, mode: h.mode, site: h.site || undefined })),
  });
  return {
    reason: s.reason,
    timeout_ms: s.timeoutMs,
    cycles: s.graph.cycles.map((c) => c.map((k, j) => {
      const next = c[(j + 1) % c.length]!;
      return { ...nodeJson(byKey.get(k)!), waits_for: next, why: s.graph.edges.find((e) => e.from === k && e.to === next)?.why };
    })),
    blocked: s.graph.blocked.map((k) => nodeJson(byKey.get(k)!)),
    edges: s.graph.edges,
    rcu: s.graph.rcu,
  };
}

// ---- violations -----------------------------------------------------------------------------

export interface ViolationReport {
  text: string;
  json: Array<Record<string, unknown>>;
  lockdep: LockdepFinding[];
}

/** One kernel-style block per kind of violation (lockdep splats in full, BUG lines for the rest). */
export function violations_report(v: StateView, violations: Violation[]): ViolationReport {
  const lockdep = lockdep_findings(v, violations);
  const lines: string[] = lockdep.map((f) => f.text);
  const json: Array<Record<string, unknown>> = lockdep.map((f) => f.json);
  const counts = new Map<string, { n: number; first: Violation }>();
  for (const x of violations) {
    if (lockdep.length && [1, 3, 4, 10].includes(x.kind)) continue;
    const key = x.kind === V_INVARIANT ? `${x.kind}:${x.a}` : is_guard_violation(x.kind) ? `${x.kind}:${x.b}` : String(x.kind);
    const c = counts.get(key);
    if (c) c.n++;
    else counts.set(key, { n: 1, first: x });
  }
  for (const { n, first: x } of counts.values()) {
    const name = violation_title(x);
    if (is_guard_violation(x.kind)) {
      // Checked build: the kernel's own report format, one per access site.
      lines.push(...guard_violation_text(v.m, v.r, x, (t) => who(v, t)));
      if (n > 1) lines.push(`(${n} times from this site)`, '');
      json.push({ kind: VIOLATION_NAMES[x.kind] ?? x.kind, title: name, count: n, cpu: x.cpu, task: x.task ? who(v, x.task) : null, a: x.a, b: x.b, c: x.c, site: site_of(x.b) ?? null });
      continue;
    }
    lines.push(`BUG: ${name}${n > 1 ? ` (${n} times)` : ''}`, `  ${violation_detail(v, x)}`, `  CPU: ${x.cpu} task: ${who(v, x.task)}`, '');
    json.push({ kind: VIOLATION_NAMES[x.kind] ?? x.kind, title: name, count: n, cpu: x.cpu, task: x.task ? who(v, x.task) : null, a: x.a, b: x.b, c: x.c });
  }
  return { text: lines.join('\n'), json, lockdep };
}

export function violation_title(x: Violation): string {
  if (x.kind === V_INVARIANT) return `invariant: ${invariant_name(x.a)}`;
  return VIOLATION_NAMES[x.kind] ?? `violation ${x.kind}`;
}

/** A task's sibling_hist words (oldest first) as "op(parent slot)@cpu". */
function sibling_hist_text(words: ArrayLike<number>): string {
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    if (!words[i]) continue;
    const [op, cpu, slot] = sibling_hist_decode(words[i]!);
    out.push(`${SH_NAMES[op] ?? op}(${slot < 0 ? '-' : `slot ${slot}`})@cpu${cpu}`);
  }
  return out.length ? out.join(' ') : '(none)';
}

/** The first sibling-list corruption's snapshot (G.list_debug, src/kernel/sched_task.ts sibling_list_corrupt). */
function list_debug_text(v: StateView): string {
  const at = v.kg + G.list_debug;
  const w = (f: number): number => v.m[at + f]!;
  const slot = (t: number): string => t ? `slot ${(t - v.r.objects[SLAB_TASK]!.base) / v.r.objects[SLAB_TASK]!.stride}` : '-';
  const hist = (f: number): string => sibling_hist_text(v.m.subarray(at + f, at + f + SIBLING_HIST));
  return `first of ${w(LIST_DEBUG.seen)}: ${LD_CHECK_NAMES[w(LIST_DEBUG.check)] ?? w(LIST_DEBUG.check)} on CPU ${w(LIST_DEBUG.cpu)}; ` +
    `parent ${hex(w(LIST_DEBUG.parent))} (${slot(w(LIST_DEBUG.parent))}), task ${hex(w(LIST_DEBUG.task))} (${slot(w(LIST_DEBUG.task))}, id ${w(LIST_DEBUG.id)}, ` +
    `real_parent ${slot(w(LIST_DEBUG.real_parent))}, group_leader ${slot(w(LIST_DEBUG.group_leader))}); its last ${SIBLING_HIST} changes: ${hist(LIST_DEBUG.hist)}; ` +
    `the list it is on belongs to ${slot(w(LIST_DEBUG.owner))}; other task ${slot(w(LIST_DEBUG.other))}, whose (else the owner's) changes: ${hist(LIST_DEBUG.other_hist)}`;
}

function violation_detail(v: StateView, x: Violation): string {
  switch (x.kind) {
    case V_RCU_USE_AFTER_FREE: {
      // The reader's system call (the pending ucall of the task that recorded it) and the cache
      // whose region holds the object, as KASAN names the cache of a slab-use-after-free.
      const call = x.task ? ` in ${syscall_name(v.m[x.task + TASK.ucall]!)}` : '';
      const cache = v.r.objects.find((o) => o !== undefined && x.a >= o.base && x.a < o.base + o.words);
      return `RCU reader (nesting ${x.b})${call} dereferenced ${cache ? `struct ${cache.name} ` : ''}${hex(x.a)} after it was freed; grace periods completed: ${x.c} (of ${v.m[v.kg + G.rcu + RCU_GP_SEQ]})`;
    }
    case V_MUTUAL_EXCLUSION:
      return `lock ${hex(x.a)}: expected ${x.b}, saw ${x.c}`;
    case V_LOCK_HELD_USER:
      return x.a ? `returning to user space with lock ${hex(x.a)} (${lock_class_name(v.m[x.a + SL_CLASS]!)}) held` : `returning to user space with ${x.c === -2 ? 'rcu_read_lock' : x.c === -1 ? 'preemption disabled' : 'a lock'} held`;
    case V_BAD_UNLOCK:
      return `unlock of ${hex(x.a)} owned by ${x.b} from ${x.c}`;
    case V_HUNG_TASK:
      return `${who(v, x.a)} goes to sleep in ${WCHAN_NAMES[x.b] ?? `wchan#${x.b}`}: its scan left notask_error 0 (something to wait for), but every child and tracee of its thread group ` +
        `(${x.c}) is EXIT_DEAD, being released by its reaper: nothing but a signal can end the wait (blocked, no waker)`;
    case V_LOST_WAKEUP:
      return `${who(v, x.a)} goes to sleep in ${WCHAN_NAMES[x.b] ?? `wchan#${x.b}`} (WUNTRACED) after its scan passed over the stop of ${who(v, x.c)}'s process, ` +
        'there for the whole look and not yet reported (SIGNAL_STOP_STOPPED, group_exit_code set, one stop): wait_task_stopped would have reported it, and a scan that passes over it once passes over it every time it is woken (lost wake-up)';
    case V_INVARIANT:
      if (x.a === INV_TASK_LIST_CORRUPTION || x.a === INV_DE_THREAD_REAL_PARENT) return list_debug_text(v);
      if (x.a === INV_TASK_TREE && v.m[v.kg + G.list_debug + LIST_DEBUG.check] === LD_TREE_CHECK) return `objects ${hex(x.b)} ${x.c}; ${list_debug_text(v)}`;
      return `objects ${hex(x.b)} ${x.c}`;
    default:
      return `a=${x.a} b=${x.b} c=${x.c}`;
  }
}
