/**
 * execve (src/kernel/exec.ts) through the scripting API: the exec of a traced task stops for
 * PTRACE_EVENT_EXEC (wait4 reports it, PTRACE_CONT ends it) with cred_guard_mutex already dropped
 * (today) or still held (BUG_EXEC_TRACED_CRED_GUARD, before a2a8474c3fff: a PTRACE_ATTACH then
 * sleeps until a signal); a non-leader thread's exec kills the other threads and takes the leader's
 * pid (de_thread); the wait-for graph's de_thread and ptrace-stop edges. Every test ends with a
 * clean kernel audit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Kernel, type TaskHandle } from '../src/api.js';
import { CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, PTRACE_EVENT_EXEC, PTRACE_O_TRACEEXEC, SIGKILL, SIGTRAP } from '../src/kernel/sched_task.js';
import { PTRACE_ATTACH, PTRACE_CONT, PTRACE_DETACH, PTRACE_SEIZE, PTRACE_TRACEME } from '../src/kernel/ptrace.js';
import { SYS_EXECVE, SYS_EXIT, SYS_PAUSE, SYS_PTRACE } from '../src/kernel/unistd.js';
import { build_waitfor } from '../src/detect/waitfor.js';
import { kg, mem, regions } from '../src/mm/memory.js';
import { errCode, reapStatus } from './support.js';

let k: Kernel;
afterEach(() => {
  k.quiesce();
  expect(k.audit()).toEqual([]);
});

const THREAD = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
/** The wait status of a PTRACE_EVENT_EXEC stop: ((SIGTRAP | event << 8) << 8) | 0x7f. */
const EXEC_STOP = (((PTRACE_EVENT_EXEC << 8) | SIGTRAP) << 8) | 0x7f;

function graph() {
  k.machine.attach();
  return build_waitfor({ m: mem, r: regions, kg });
}

function seizeForExec(t: TaskHandle, x: TaskHandle): void {
  expect(k.syscall(t, 'ptrace', SYS_PTRACE, PTRACE_SEIZE, k.pidIn(t, x), PTRACE_O_TRACEEXEC)).toEqual({ value: 0 });
}

describe('execve of a traced task: PTRACE_EVENT_EXEC', () => {
  it('today: the stop is reported, PTRACE_ATTACH gets EPERM at once, PTRACE_CONT resumes the new image', () => {
    k = Kernel.create();
    const t = k.fork(k.init);
    const x = k.fork(t);
    const image = k.program([[SYS_EXIT, 7]], 'image');
    seizeForExec(t, x);
    expect(k.syscall(x, 'execve', SYS_EXECVE, image)).toEqual({ blocked: true });
    const g = graph();
    const xn = g.nodes.find((n) => n.task?.addr === x.addr)!;
    expect(xn.task!.wchan).toBe('ptrace_stop');
    expect(xn.holds).toEqual([]); // cred_guard_mutex dropped before the stop (a2a8474c3fff)
    expect(g.edges.some((e) => e.from === xn.key && /ptrace stop/.test(e.why))).toBe(true);
    expect(k.wait4(t, k.pidIn(t, x), { all: true })).toEqual({ pid: k.pidIn(t, x), status: EXEC_STOP });
    expect(errCode(() => k.ptrace(t, PTRACE_ATTACH, k.pidIn(t, x)))).toBe('EPERM');
    expect(k.syscall(t, 'ptrace', SYS_PTRACE, PTRACE_CONT, k.pidIn(t, x), 0)).toEqual({ value: 0 });
    expect(reapStatus(k, t, x)).toBe(7 << 8);
  });

  it('the tracer\'s PTRACE_DETACH, or its exit, lets a stopped tracee go (no edge to a tracer that is gone)', () => {
    k = Kernel.create();
    const t = k.fork(k.init);
    const x = k.fork(t);
    const y = k.fork(t);
    const image = k.program([[SYS_EXIT, 5]], 'image');
    seizeForExec(t, x);
    seizeForExec(t, y);
    expect(k.syscall(x, 'execve', SYS_EXECVE, image)).toEqual({ blocked: true });
    expect(k.syscall(y, 'execve', SYS_EXECVE, image)).toEqual({ blocked: true });
    expect(k.ptrace(t, PTRACE_DETACH, k.pidIn(t, x))).toBe(0); // resumes x untraced: it exits 5
    k.run();
    expect(reapStatus(k, t, x)).toBe(5 << 8);
    expect(k.isBlocked(y)).toBe(true);
    k.exit(t); // exit_ptrace: y leaves its stop, runs the image, is reparented to init
    k.run();
    expect(reapStatus(k, k.init, t)).toBe(0);
    expect(reapStatus(k, k.init, y)).toBe(5 << 8);
  });

  it('before a2a8474c3fff: the stop holds cred_guard_mutex; the attach sleeps on it until a signal', () => {
    k = Kernel.create({ bugs: ['exec_traced_cred_guard'] });
    const t = k.fork(k.init);
    const x = k.fork(t);
    const image = k.program([[SYS_EXIT, 7]], 'image');
    seizeForExec(t, x);
    expect(k.syscall(x, 'execve', SYS_EXECVE, image)).toEqual({ blocked: true });
    expect(k.wait4(t, k.pidIn(t, x), { all: true })).toEqual({ pid: k.pidIn(t, x), status: EXEC_STOP });
    expect(k.syscall(t, 'ptrace', SYS_PTRACE, PTRACE_ATTACH, k.pidIn(t, x))).toEqual({ blocked: true });
    const g = graph();
    const tn = g.nodes.find((n) => n.task?.addr === t.addr)!;
    const xn = g.nodes.find((n) => n.task?.addr === x.addr)!;
    expect(xn.holds.map((h) => h.cls)).toEqual(['&sig->cred_guard_mutex']);
    expect(g.cycles.some((c) => c.includes(tn.key) && c.includes(xn.key))).toBe(true);
    // mutex_lock_interruptible: a fatal signal ends the wait; the tracer's exit lets the tracee go.
    k.kill(k.init, k.pidIn(k.init, t), SIGKILL);
    k.run();
    expect(k.isZombie(t)).toBe(true);
    expect(reapStatus(k, k.init, t)).toBe(SIGKILL);
    // X ran its new image (exit 7) and was reparented to init.
    expect(reapStatus(k, k.init, x)).toBe(7 << 8);
  });
});

describe('execve of a multi-threaded process: de_thread', () => {
  it('a non-leader exec kills the other threads and takes the leader\'s pid', () => {
    k = Kernel.create();
    const p = k.fork(k.init);
    const a = k.fork(p, { flags: THREAD });
    const b = k.fork(p, { flags: THREAD });
    const pid = k.getpid(p);
    expect(k.gettid(b)).not.toBe(pid);
    const image = k.program([[SYS_EXIT, 3]], 'image');
    expect(k.syscall(b, 'execve', SYS_EXECVE, image)).toEqual({ value: 0 });
    k.run();
    // b ran the image as the process's only thread, with the group's pid: init reaps pid `pid`.
    expect(k.wait4(k.init, pid)).toEqual({ pid, status: 3 << 8 });
    expect(k.exists(a) && k.alive(a)).toBe(false);
  });

  it('today\'s open deadlock (vmaccess attach1): de_thread waits for a traced zombie thread whose tracer sleeps on cred_guard_mutex', () => {
    k = Kernel.create();
    const t = k.fork(k.init);
    const p = k.fork(t);
    const z = k.fork(p, { flags: THREAD });
    expect(k.ptrace(z, PTRACE_TRACEME, 0)).toBe(0); // T traces the thread z
    k.exit(z);
    expect(k.isZombie(z)).toBe(true);
    const image = k.program([[SYS_PAUSE]], 'image');
    expect(k.syscall(p, 'execve', SYS_EXECVE, image)).toEqual({ blocked: true });
    expect(k.syscall(t, 'ptrace', SYS_PTRACE, PTRACE_ATTACH, k.pidIn(t, p))).toEqual({ blocked: true });
    const g = graph();
    const key = (h: TaskHandle): string => g.nodes.find((n) => n.task?.addr === h.addr)!.key;
    const cyc = g.cycles.find((c) => c.includes(key(p)));
    expect(cyc).toBeDefined();
    expect(new Set(cyc)).toEqual(new Set([key(p), key(z), key(t)]));
    expect(g.nodes.find((n) => n.key === key(p))!.task!.wchan).toBe('de_thread');
    // Killing the tracer ends it: its exit releases the zombie thread, de_thread goes on.
    k.kill(k.init, k.pidIn(k.init, t), SIGKILL);
    k.run();
    expect(reapStatus(k, k.init, t)).toBe(SIGKILL);
    k.kill(k.init, k.pidIn(k.init, p), SIGKILL);
    k.run();
    expect(reapStatus(k, k.init, p)).toBe(SIGKILL);
  });

  it('the unmerged 2025 RFC (exec_reap_unlocked): the attach gets the mutex while execve waits for the reaping', () => {
    k = Kernel.create({ bugs: ['exec_reap_unlocked'] });
    const t = k.fork(k.init);
    const p = k.fork(t);
    const z = k.fork(p, { flags: THREAD });
    expect(k.ptrace(z, PTRACE_TRACEME, 0)).toBe(0);
    const zpid = k.gettid(z);
    k.exit(z);
    const image = k.program([[SYS_EXIT, 1]], 'image');
    expect(k.syscall(p, 'execve', SYS_EXECVE, image)).toEqual({ blocked: true });
    let g = graph();
    const pn = g.nodes.find((n) => n.task?.addr === p.addr)!;
    expect(pn.task!.wchan).toBe('de_thread');
    expect(pn.holds).toEqual([]); // setup_new_exec dropped cred_guard_mutex before this wait
    expect(k.ptrace(t, PTRACE_ATTACH, k.pidIn(t, p))).toBe(0);
    // T's wait4 releases the traced zombie thread; the exec goes on and the image exits 1.
    expect(k.wait4(t, -1, { all: true })).toEqual({ pid: zpid, status: 0 });
    k.run();
    expect(reapStatus(k, t, p)).toBe(1 << 8);
    g = graph();
    expect(g.cycles).toEqual([]);
  });
});
