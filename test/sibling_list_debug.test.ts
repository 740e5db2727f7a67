/**
 * The model's CONFIG_DEBUG_LIST for the children/sibling lists (src/kernel/sched_task.ts): the
 * lists are NULL-terminated with head and tail words in the parent, so a list_del on a parent whose
 * list the task is not on would leave the real list's head on a freed task and its other children
 * unreachable (the state of session 5's 10-minute no-switch free run: a live child naming the
 * stress reaper as real_parent, missing from the reaper's list). Each test plants the divergence
 * that would lead there and shows the writer refusing the change and reporting it, with the task's
 * history (TASK.sibling_hist) in the report; the first test shows a clean tree reports nothing.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../src/api.js';
import { CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, EXIT_TRACE, INV_DE_THREAD_REAL_PARENT, INV_TASK_LIST_CORRUPTION } from '../src/kernel/sched_task.js';
import { PR_SET_CHILD_SUBREAPER } from '../src/kernel/fork.js';
import { PTRACE_DETACH, PTRACE_TRACEME } from '../src/kernel/ptrace.js';
import { SYS_EXECVE, SYS_EXIT } from '../src/kernel/unistd.js';
import { G, TASK } from '../src/mm/layout.js';
import { kg, mem, regions } from '../src/mm/memory.js';
import { V_INVARIANT } from '../src/locking/violations.js';
import { violations_report } from '../src/detect/report.js';

const THREAD = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;

function children(parent: number): number[] {
  const out: number[] = [];
  for (let c = mem[parent + TASK.children]!; c && out.length < 64; c = mem[c + TASK.sibling_next]!) out.push(c);
  return out;
}

function found(k: Kernel, code: number): boolean {
  return k.machine.violations().some((v) => v.kind === V_INVARIANT && v.a === code);
}

function report(k: Kernel): string {
  k.machine.attach();
  return violations_report({ m: mem, r: regions, kg }, k.machine.violations()).text;
}

describe('sibling lists: CONFIG_DEBUG_LIST checks at the writers', () => {
  it('a clean tree (forks, threads, a non-leader exec, reparenting to a subreaper, reaping) reports nothing', () => {
    const k = Kernel.create();
    const s = k.fork(k.init);
    k.prctl(s, PR_SET_CHILD_SUBREAPER, 1);
    const p = k.fork(s);
    const c1 = k.fork(p);
    const c2 = k.fork(p);
    const t = k.fork(c1, { flags: THREAD });
    const image = k.program([[SYS_EXIT, 3]], 'image');
    k.exit(p, 0); // c1 (with its thread) and c2 go to s
    expect(children(s.addr)).toEqual(expect.arrayContaining([c1.addr, c2.addr]));
    const pid = k.getpid(c1);
    expect(k.syscall(t, 'execve', SYS_EXECVE, image)).toEqual({ value: 0 }); // t takes c1's place on s's list
    k.run();
    expect(k.wait4(s, pid)).toEqual({ pid, status: 3 << 8 });
    k.exit(c2, 0);
    k.wait4(s, -1);
    k.wait4(s, -1);
    expect(mem[kg + G.list_debug]).toBe(0);
    expect(found(k, INV_TASK_LIST_CORRUPTION) || found(k, INV_DE_THREAD_REAL_PARENT)).toBe(false);
    k.quiesce();
    expect(k.audit()).toEqual([]);
  });

  it('list_del on the parent a task names, while it heads another list: refused, reported, the real list intact', () => {
    const k = Kernel.create();
    const a = k.fork(k.init);
    const b = k.fork(k.init);
    const p = k.fork(a);
    const q = k.fork(a);
    const pid = k.getpid(p);
    k.exit(p, 0);
    // The divergence: p is on a's list, at its head, but names b (a stale real_parent).
    mem[p.addr + TASK.real_parent] = b.addr;
    mem[p.addr + TASK.parent] = b.addr; // untraced: parent is real_parent
    expect(children(a.addr)).toEqual([p.addr, q.addr]);
    expect(k.wait4(a, -1)).toEqual({ pid, status: 0 }); // do_wait_thread walks a's list; release_task: list_del(&p->sibling) on b's list
    expect(found(k, INV_TASK_LIST_CORRUPTION)).toBe(true);
    // Unchecked, the list_del left a's head on p (freed) and q out of reach from it.
    expect(children(a.addr)).toContain(q.addr);
    const text = report(k);
    expect(text).toContain('list_del: the task has no prev but is not the head of its parent\'s children');
    expect(text).toMatch(/its last 4 changes: add\(slot \d+\)@cpu\d+/);
    expect(text).toMatch(/the list it is on belongs to slot \d+/);
  });

  it('de_thread with a thread whose real_parent is not its leader\'s: reported', () => {
    const k = Kernel.create();
    const o = k.fork(k.init);
    const p = k.fork(k.init);
    const t = k.fork(p, { flags: THREAD });
    mem[t.addr + TASK.real_parent] = o.addr; // a thread the reparent loop missed
    const image = k.program([[SYS_EXIT, 0]], 'image');
    expect(k.syscall(t, 'execve', SYS_EXECVE, image)).toEqual({ value: 0 });
    expect(found(k, INV_DE_THREAD_REAL_PARENT)).toBe(true);
    expect(report(k)).toContain('de_thread: the exec\'ing thread\'s real_parent differs from its leader\'s');
  });

  it('forget_original_parent finds a thread of a child that names another real_parent: reported', () => {
    const k = Kernel.create();
    const a = k.fork(k.init);
    const o = k.fork(k.init);
    const c = k.fork(a);
    const t = k.fork(c, { flags: THREAD });
    mem[t.addr + TASK.real_parent] = o.addr;
    k.exit(a, 0);
    expect(found(k, INV_TASK_LIST_CORRUPTION)).toBe(true);
    expect(report(k)).toContain('forget_original_parent: a thread of a child on the exiting task\'s list names another real_parent');
  });

  it('__ptrace_unlink of a tracee missing from its tracer\'s ptraced list: reported', () => {
    const k = Kernel.create();
    const p = k.fork(k.init);
    const c = k.fork(p);
    expect(k.ptrace(c, PTRACE_TRACEME, 0)).toBe(0);
    expect(mem[p.addr + TASK.ptraced]).toBe(c.addr);
    mem[p.addr + TASK.ptraced] = 0; // the tracee lost from the list, ->ptrace still set
    expect(k.ptrace(p, PTRACE_DETACH, k.getpid(c))).toBe(0);
    expect(found(k, INV_TASK_LIST_CORRUPTION)).toBe(true);
    expect(report(k)).toContain('__ptrace_unlink: the tracee is not on its tracer\'s ptraced list');
  });

  it('__unhash_process of a leader that is not on the process list: refused, reported', () => {
    const k = Kernel.create();
    const p = k.fork(k.init);
    const q = k.fork(k.init);
    const pid = k.getpid(p);
    k.exit(p, 0);
    mem[p.addr + TASK.tasks_prev] = q.addr; // p's links no longer where its neighbours say
    expect(k.wait4(k.init, pid)).toEqual({ pid, status: 0 });
    expect(found(k, INV_TASK_LIST_CORRUPTION)).toBe(true);
    expect(report(k)).toContain('__unhash_process: the leader is not on the process list');
  });

  it('release_task of a task that still has children: reported', () => {
    const k = Kernel.create();
    const p = k.fork(k.init);
    const q = k.fork(k.init);
    const pid = k.getpid(p);
    k.exit(p, 0);
    mem[p.addr + TASK.children] = q.addr; // a child linked to p past its exit_notify
    mem[p.addr + TASK.children_last] = q.addr;
    expect(k.wait4(k.init, pid)).toEqual({ pid, status: 0 });
    expect(found(k, INV_TASK_LIST_CORRUPTION)).toBe(true);
    expect(report(k)).toContain('release_task: the task still has children');
  });

  it('de_thread taking over a leader that is not a zombie (BUG_ON(leader->exit_state != EXIT_ZOMBIE)): reported', () => {
    const k = Kernel.create();
    const p = k.fork(k.init);
    const t = k.fork(p, { flags: THREAD });
    const image = k.program([[SYS_EXIT, 0]], 'image');
    mem[p.addr + TASK.exit_state] = EXIT_TRACE; // as if a tracer's wait_task_zombie had claimed it
    expect(k.syscall(t, 'execve', SYS_EXECVE, image)).toEqual({ value: 0 });
    expect(found(k, INV_DE_THREAD_REAL_PARENT)).toBe(true);
    expect(report(k)).toContain('de_thread: BUG_ON(leader->exit_state != EXIT_ZOMBIE)');
  });

  it('the stress checker\'s tree walk keeps the first missing child\'s list history for the report', async () => {
    const { check_task_family, INV_TASK_TREE } = await import('../src/stress/checks.js');
    const k = Kernel.create();
    const r = k.fork(k.init);
    const a = k.fork(r);
    const x = k.fork(r);
    mem[a.addr + TASK.sibling_next] = 0; // x cut off r's list: the state of session 5's 10-minute run
    k.machine.attach();
    check_task_family(x.addr);
    expect(k.machine.violations().some((v) => v.kind === V_INVARIANT && v.a === INV_TASK_TREE && v.b === x.addr && v.c === r.addr)).toBe(true);
    const text = report(k);
    expect(text).toContain('the task-tree check: a live leader missing from its real parent');
    expect(text).toMatch(/its last 4 changes: add\(slot \d+\)@cpu\d+/);
  });

  it('list_add of a task already on a list: refused, reported', async () => {
    const k = Kernel.create();
    const a = k.fork(k.init);
    const c = k.fork(a);
    const d = k.fork(a);
    const { children_add_tail } = await import('../src/kernel/sched_task.js');
    k.machine.attach();
    children_add_tail(k.init.addr, c.addr);
    expect(found(k, INV_TASK_LIST_CORRUPTION)).toBe(true);
    expect(children(a.addr)).toEqual([c.addr, d.addr]);
  });
});
