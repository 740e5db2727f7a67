/**
 * The scripting API: drive the model kernel from the main thread, one system call at a time, the
 * way a test or a conformance script drives real processes.
 *
 * `Kernel.create()` boots a Machine and runs it in-process on CPU 0 (deterministic). Each call
 * writes the acting task's pending system call (set_ucall), wakes the task (it sleeps idle in
 * pause()), runs CPU 0 until nothing is runnable, and reads the result: a value, a KernelError for
 * -errno (with `.code` = 'EINVAL' ... and `.errno`, like Node's errors), or `{ blocked: true }`
 * when the call sleeps (wait4 with nothing to reap, an exit waiting in zap_pid_ns_processes ...).
 * A blocked task stays asleep; later calls on other tasks may complete it, and `k.result(t)` reads
 * the outcome of its pending call.
 *
 * Task handles carry the task record's address and its serial id, so a handle whose task was
 * reaped (and whose record may have been reused) is recognised as gone.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Machine, projectRoot, type RunOptions, type RunResult } from './machine.js';
import { CPU, G, PID, PIDNS, POISON_LIVE, TARGET_PID_SET, TASK } from './mm/layout.js';
import { type KernelConfig, cpu_addr, kg, mem, NR_SLABS, regions, set_this_cpu } from './mm/memory.js';
import { kmem_cache_in_use } from './mm/slab.js';
import { type BootOptions } from './kernel/boot.js';
import { BUG_NAMES } from './config/bugs.js';
import { OP_NONE, RET_IN_PROGRESS, set_ucall } from './kernel/entry.js';
import { EINTR, ERESTARTNOHAND, ERESTARTNOINTR, ERESTARTSYS, errno_name } from './kernel/errno.js';

import {
  SYS_CAPSET, SYS_CLONE3, SYS_CLONE_WITH_PIDS, SYS_CLOSE, SYS_EXIT, SYS_FSTAT, SYS_MEMFD_CREATE, SYS_EXIT_GROUP, SYS_FORK, SYS_GETPID, SYS_GETPPID, SYS_GETTID,
  SYS_KILL, SYS_NS_LAST_PID_READ, SYS_NS_LAST_PID_WRITE, SYS_OPEN_NS, SYS_PAUSE, SYS_PID_MAX_READ, SYS_PID_MAX_WRITE, SYS_PIDFD_OPEN,
  SYS_PIDNS_IOCTL_SET_LAST_PID_VEC, SYS_PRCTL, SYS_PTRACE, SYS_REBOOT, SYS_RT_SIGACTION, SYS_RT_SIGPROCMASK, SYS_SET_SIGCHLD_IGN,
  SYS_SETNS, SYS_SETSID, SYS_SETUID, SYS_SIG_CAUGHT, SYS_GID_MAP_WRITE, SYS_PIDFD_SEND_SIGNAL, SYS_SETGROUPS_WRITE, SYS_UID_MAP_WRITE,
  SYS_SYNCHRONIZE_RCU_TASKS, SYS_UNSHARE, SYS_WAIT4, SYS_WAITID,
} from './kernel/unistd.js';
import {
  CA_EXIT_SIGNAL, CA_FLAGS, CA_PARENT_TID, CA_PIDFD, CA_SET_TID, CA_SET_TID_SIZE, CA_STACK, CA_STACK_SIZE, CLONE_ARGS_SIZE_VER2,
} from './kernel/fork.js';
import { audit_kernel } from './kernel/audit.js';
import { nspid_of, pid_nr_ns, task_active_pid_ns } from './kernel/pid.js';
import { NSK_CGROUP, NSK_IPC, NSK_MNT, NSK_NET, NSK_PID, NSK_PID_FOR_CHILDREN, NSK_TIME, NSK_TIME_FOR_CHILDREN, NSK_USER, NSK_UTS } from './kernel/nsfs.js';
import { __WALL, CLONE_PIDFD, CLONE_THREAD, __WCLONE, __WNOTHREAD, EXIT_ZOMBIE, JOBCTL_STOPPED, PF_EXITING, SIG_CAUGHT, SIG_DFL, SIG_IGN, WNOHANG } from './kernel/sched_task.js';
import { rcu_callbacks_pending, rcu_do_batch, rcu_note_context_switch, rcu_try_complete_gp } from './rcu/rcu.js';
import { set_current, TASK_DEAD, TASK_INTERRUPTIBLE, try_to_wake_up, WCHAN_PAUSE } from './sched/core.js';

/** A task as the API knows it. */
export interface TaskHandle {
  /** Address of the task record. */
  readonly addr: number;
  /** Serial id (TASK.id): tells a live task from a reused record. */
  readonly id: number;
  /** Its pid in init_pid_ns when the handle was made. */
  readonly gpid: number;
  /**
   * Its NSpid (level 0 down to its own namespace's level) when the handle was made. A task's pids
   * never change, so this stays true, and readable after the task is reaped (k.nspid() of a
   * released task is empty: the struct pid is gone).
   */
  readonly nspid: readonly number[];
}

/** errno names missing from errno.ts. */
const EXTRA_ERRNO: Record<number, string> = { 5: 'EIO', 7: 'E2BIG', 23: 'ENFILE', 25: 'ENOTTY' };

/** A failed system call, like Node's system errors: `.code` is the errno name. */
export class KernelError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  constructor(syscall: string, errno: number) {
    const code = EXTRA_ERRNO[errno] ?? errno_name(errno);
    super(`${syscall}: ${code}`);
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
  }
}

/**
 * The scripting API of the checked build (`--check-guards`): this module as built into
 * dist-checked/ (by `npm run build`), whose kernel checks every field access against its guard
 * (src/locking/guard_check.ts). Its Kernel, KernelError ... are that module's own classes; what the
 * checks find is in `k.machine.violations()` like any other violation.
 */
export async function loadCheckedApi(): Promise<typeof import('./api.js')> {
  return (await import(pathToFileURL(join(projectRoot(), 'dist-checked', 'src', 'api.js')).href)) as typeof import('./api.js');
}

export interface KernelOptions {
  ncpus?: number;
  maxTasks?: number;
  pidMax?: number;
  maxLevel?: number;
  /** Bug switches: a BUG_* mask or names ('ptrace_dead_list' ...). */
  bugs?: number | readonly string[];
  lockdep?: boolean;
  injectEnomemPermille?: number;
  seed?: number;
  mode?: 'free' | 'controlled';
  /** Any other machine config. */
  config?: Partial<KernelConfig>;
  boot?: BootOptions;
}

export interface ForkOptions {
  /** clone flags (CLONE_*); the CSIGNAL byte is the exit signal (0: SIGCHLD). */
  flags?: number;
  /** clone3 set_tid (set_tid[0] is the pid in the child's own namespace). Uses clone3. */
  setTid?: readonly number[];
  /** clone_with_pids target pids, oldest namespace first (seed 002). Uses clone_with_pids. */
  targetPids?: readonly number[];
  /** A program for the child (default: a scripted child, driven by this API). */
  prog?: number;
  /** TASK.user_arg of the child (SYS_FORK only). */
  arg?: number;
}

export interface Clone3Options {
  flags?: number;
  exitSignal?: number;
  setTid?: readonly number[];
  /** set_tid pointer without entries (set_tid_size 0 with a pointer: EINVAL), or a bad size. */
  setTidSize?: number;
  /** clone_args size in bytes (default 88). */
  size?: number;
  stack?: number;
  stackSize?: number;
  prog?: number;
  /** args->pidfd: an address for CLONE_PIDFD's pidfd (a scratch word; forkPidfd reads it back). */
  pidfd?: boolean;
  /** args->parent_tid at the same word as args->pidfd (CLONE_PARENT_SETTID: EINVAL). */
  parentTidIsPidfd?: boolean;
}

/** waitid's siginfo (si_signo, si_code, si_pid, si_status). */
export interface WaitidInfo {
  signo: number;
  code: number;
  pid: number;
  status: number;
}
export type WaitidResult = WaitidInfo | { blocked: true };

export interface WaitOptions {
  nohang?: boolean;
  /** __WALL */
  all?: boolean;
  /** __WCLONE */
  clone?: boolean;
  /** __WNOTHREAD */
  nothread?: boolean;
  /** Raw option bits (added to the above). */
  options?: number;
}

export type WaitResult = { pid: number; status: number } | { blocked: true };
export type CallResult = { blocked: true } | { exited: true } | { value: number };

/** /proc/PID/ns kinds. */
export const NS_KIND: Record<string, number> = {
  pid: NSK_PID, pid_for_children: NSK_PID_FOR_CHILDREN, user: NSK_USER, uts: NSK_UTS, ipc: NSK_IPC, mnt: NSK_MNT,
  net: NSK_NET, cgroup: NSK_CGROUP, time: NSK_TIME, time_for_children: NSK_TIME_FOR_CHILDREN,
};

/** last_ret while a call has not completed (no system call returns it). */
const PENDING = RET_IN_PROGRESS;
/** Scratch words for call arguments: clone_args, set_tid, target pid sets (the first 1024), and a
 *  last-pid vector string up to one page and a bit (PIDNS_REQ_SET_LAST_PID_VEC checks < PAGE_SIZE). */
const SCRATCH_WORDS = 1024 + 4200;
/** Word of the clone3 scratch area (clone_args at 0, set_tid at 32) that receives CLONE_PIDFD's pidfd. */
const PIDFD_SLOT = 60;

/** Wait status helpers (include/uapi/linux/wait.h semantics). */
export const WIFEXITED = (s: number): boolean => (s & 0x7f) === 0;
export const WEXITSTATUS = (s: number): number => (s >> 8) & 0xff;
export const WIFSIGNALED = (s: number): boolean => (s & 0x7f) !== 0 && (s & 0x7f) !== 0x7f;
export const WTERMSIG = (s: number): number => s & 0x7f;

interface Pending {
  name: string;
  op: number;
}

export class Kernel {
  readonly machine: Machine;
  readonly init: TaskHandle;
  /** Slab in_use after boot (the leak baseline). */
  readonly baseline: number[];
  private readonly scratch: number;
  private readonly pending = new Map<number, Pending>();

  private constructor(machine: Machine) {
    this.machine = machine;
    machine.attach();
    this.scratch = machine.alloc(SCRATCH_WORDS);
    const init = mem[kg + G.init_task]!;
    if (!init) throw new Error('Kernel: no init task (fork.ts boot init did not run)');
    this.init = this.handle(init);
    this.baseline = [];
    for (let k = 0; k < NR_SLABS; k++) this.baseline.push(kmem_cache_in_use(mem, regions, k));
  }

  /** Boot a machine for in-process use. */
  static create(opts: KernelOptions = {}): Kernel {
    let bugs = 0;
    if (typeof opts.bugs === 'number') bugs = opts.bugs;
    else if (opts.bugs) {
      for (const b of opts.bugs) {
        const v = BUG_NAMES[b];
        if (v === undefined) throw new Error(`unknown bug switch ${b}`);
        bugs |= v;
      }
    }
    const maxTasks = opts.maxTasks ?? opts.config?.maxTasks;
    const config: Partial<KernelConfig> = {
      ncpus: opts.ncpus ?? 1,
      ...(maxTasks !== undefined ? { maxTasks, maxPids: maxTasks + 64 } : {}),
      ...(opts.pidMax !== undefined ? { pidMax: opts.pidMax } : {}),
      ...(opts.maxLevel !== undefined ? { maxLevel: opts.maxLevel } : {}),
      ...opts.config,
    };
    const boot: BootOptions = {
      bugs,
      lockdep: opts.lockdep ?? false,
      injectEnomemPermille: opts.injectEnomemPermille ?? 0,
      seed: opts.seed ?? 1,
      mode: opts.mode ?? 'free',
      ...opts.boot,
    };
    return new Kernel(new Machine(config, boot));
  }

  // ---- handles ---------------------------------------------------------------------------------------

  /** A handle for the task record at `addr` (as it is now). */
  handle(addr: number): TaskHandle {
    this.machine.attach();
    const pid = mem[addr + TASK.pid]!;
    return { addr, id: mem[addr + TASK.id]!, gpid: pid ? mem[pid + PID.SIZE]! : 0, nspid: Object.freeze(pid ? nspid_of(pid) : []) };
  }

  /** Is the handle's task still there: same record (not freed, not reused), not yet released (reaped)? */
  exists(t: TaskHandle): boolean {
    this.machine.attach();
    return mem[t.addr + TASK.id] === t.id && mem[t.addr + TASK.poison] === POISON_LIVE && mem[t.addr + TASK.pid] !== 0;
  }

  /** The task can still make system calls: exists, has not started exiting. */
  alive(t: TaskHandle): boolean {
    if (!this.exists(t)) return false;
    return mem[t.addr + TASK.exit_state] === 0 && (mem[t.addr + TASK.flags]! & PF_EXITING) === 0 &&
      Atomics.load(mem, t.addr + TASK.state) !== TASK_DEAD;
  }

  /** A zombie (exited, not yet reaped). */
  isZombie(t: TaskHandle): boolean {
    return this.exists(t) && mem[t.addr + TASK.exit_state] === EXIT_ZOMBIE;
  }

  /** Has a pending call that sleeps. */
  isBlocked(t: TaskHandle): boolean {
    return this.pending.has(t.id) && this.exists(t) && mem[t.addr + TASK.last_ret] === PENDING &&
      Atomics.load(mem, t.addr + TASK.state) !== TASK_DEAD;
  }

  // ---- the call machinery ---------------------------------------------------------------------------

  /** Run CPU 0 until nothing is runnable. */
  run(): void {
    this.machine.runInProcess();
  }

  /**
   * Issue system call `op` on task t and run until quiescent. Returns the value, `{blocked}` if it
   * sleeps, `{exited}` if the task died in it (exit, or a fatal signal).
   */
  syscall(t: TaskHandle, name: string, op: number, a = 0, b = 0, c = 0): CallResult {
    this.machine.attach();
    if (!this.exists(t)) throw new Error(`${name}: task ${t.id} is gone`);
    if (this.isBlocked(t)) throw new Error(`${name}: task ${t.id} is blocked in ${this.pending.get(t.id)!.name}`);
    if (!this.alive(t)) throw new Error(`${name}: task ${t.id} has exited`);
    const p = t.addr;
    if (mem[p + TASK.ucall] !== OP_NONE || mem[p + TASK.prog] !== 0) throw new Error(`${name}: task ${t.id} is not a scripted task at rest`);
    set_ucall(p, op, a, b, c);
    mem[p + TASK.last_ret] = PENDING;
    this.pending.set(t.id, { name, op });
    if (!try_to_wake_up(p, TASK_INTERRUPTIBLE)) {
      // Never ran (fresh child marked sleeping in pause) or already queued: make sure it runs.
      if (Atomics.load(mem, p + TASK.state) !== 0) throw new Error(`${name}: task ${t.id} can not be woken`);
    }
    this.run();
    return this.outcome(t);
  }

  private outcome(t: TaskHandle): CallResult {
    this.machine.attach();
    // A freed record keeps its words until it is reused (and a reused one has another id).
    if (mem[t.addr + TASK.id] === t.id && mem[t.addr + TASK.last_ret] !== PENDING) {
      this.pending.delete(t.id);
      const v = mem[t.addr + TASK.last_ret]!;
      // -ERESTART* never reach user space: a fatal signal ended the task, or the call restarts
      // (the model has no handlers, so "restart" means the signal killed it) or fails with EINTR.
      if (v === -ERESTARTSYS || v === -ERESTARTNOINTR || v === -ERESTARTNOHAND) {
        return this.alive(t) ? { value: -EINTR } : { exited: true };
      }
      return { value: v };
    }
    if (!this.exists(t) || Atomics.load(mem, t.addr + TASK.state) === TASK_DEAD) {
      this.pending.delete(t.id);
      return { exited: true };
    }
    return { blocked: true };
  }

  /** The outcome of t's pending call now (runs the machine first). */
  result(t: TaskHandle): CallResult & Partial<{ pid: number; status: number; signo: number; code: number }> {
    this.run();
    const p = this.pending.get(t.id);
    if (!p) throw new Error(`result: task ${t.id} has no pending call`);
    const o = this.outcome(t);
    if ('value' in o && p.op === SYS_WAIT4) {
      if (o.value < 0 && o.value > -4096) throw new KernelError('wait4', -o.value);
      return { ...o, pid: o.value, status: mem[t.addr + TASK.last_status]! };
    }
    if ('value' in o && o.value < 0 && o.value > -4096) throw new KernelError(p.name, -o.value);
    if ('value' in o && p.op === SYS_WAITID) return { ...o, ...this.siginfo(t) };
    return o;
  }

  private value(name: string, r: CallResult): number {
    if ('value' in r) {
      if (r.value < 0 && r.value > -4096) throw new KernelError(name, -r.value);
      return r.value;
    }
    if ('blocked' in r) throw new Error(`${name}: the call blocked`);
    throw new Error(`${name}: the task exited in the call`);
  }

  private call(t: TaskHandle, name: string, op: number, a = 0, b = 0, c = 0): number {
    return this.value(name, this.syscall(t, name, op, a, b, c));
  }

  // ---- process lifecycle ---------------------------------------------------------------------------

  /** fork/clone (SYS_FORK), or clone3 with opts.setTid, or clone_with_pids with opts.targetPids. */
  fork(t: TaskHandle, opts: ForkOptions = {}): TaskHandle {
    if (opts.setTid) return this.clone3(t, { flags: (opts.flags ?? 0) & ~0xff, exitSignal: (opts.flags ?? 0) & 0xff || 17, setTid: opts.setTid, prog: opts.prog });
    if (opts.targetPids) return this.cloneWithPids(t, opts.targetPids, opts.flags ?? 0, opts.prog ?? 0);
    this.call(t, 'fork', SYS_FORK, opts.flags ?? 0, opts.prog ?? 0, opts.arg ?? 0);
    return this.child(t);
  }

  /**
   * clone(flags | CLONE_PIDFD), or clone3 with `clone3: true`: the child and the pidfd the kernel
   * returned through parent_tid (clone) or args->pidfd (clone3).
   */
  forkPidfd(t: TaskHandle, opts: { flags?: number; clone3?: boolean; setTid?: readonly number[]; prog?: number } = {}): { child: TaskHandle; pidfd: number } {
    const flags = (opts.flags ?? 0) | CLONE_PIDFD;
    if (opts.clone3) {
      const exitSignal = (flags & CLONE_THREAD) !== 0 ? 0 : (flags & 0xff) || 17;
      const child = this.clone3(t, { flags: flags & ~0xff, exitSignal, prog: opts.prog, pidfd: true, ...(opts.setTid ? { setTid: opts.setTid } : {}) });
      return { child, pidfd: mem[this.scratch + PIDFD_SLOT]! };
    }
    const child = this.fork(t, { flags, prog: opts.prog });
    return { child, pidfd: mem[t.addr + TASK.clone_parent_tid]! };
  }

  /** The last child t created. */
  private child(t: TaskHandle): TaskHandle {
    return this.handle(mem[t.addr + TASK.fork_child]!);
  }

  /** clone3 with a struct clone_args written to scratch memory. */
  clone3(t: TaskHandle, o: Clone3Options = {}): TaskHandle {
    this.machine.attach();
    const a = this.scratch;
    mem.fill(0, a, a + 64);
    const tids = a + 32;
    mem[a + CA_FLAGS] = o.flags ?? 0;
    mem[a + CA_EXIT_SIGNAL] = o.exitSignal ?? 17;
    mem[a + CA_STACK] = o.stack ?? 0;
    mem[a + CA_STACK_SIZE] = o.stackSize ?? 0;
    if (o.pidfd) mem[a + CA_PIDFD] = a + PIDFD_SLOT;
    if (o.parentTidIsPidfd) mem[a + CA_PARENT_TID] = a + PIDFD_SLOT;
    if (o.setTid) {
      o.setTid.forEach((v, i) => { mem[tids + i] = v; });
      mem[a + CA_SET_TID] = tids;
      mem[a + CA_SET_TID_SIZE] = o.setTidSize ?? o.setTid.length;
    } else if (o.setTidSize !== undefined) {
      mem[a + CA_SET_TID_SIZE] = o.setTidSize;
    }
    this.call(t, 'clone3', SYS_CLONE3, a, o.size ?? CLONE_ARGS_SIZE_VER2, o.prog ?? 0);
    return this.child(t);
  }

  /** clone_with_pids (seed 002): pids for the youngest namespaces, oldest first. */
  cloneWithPids(t: TaskHandle, pids: readonly number[], flags = 0, prog = 0): TaskHandle {
    this.machine.attach();
    const a = this.scratch + 128;
    mem[a + TARGET_PID_SET.num_pids] = pids.length;
    pids.forEach((v, i) => { mem[a + TARGET_PID_SET.SIZE + i] = v; });
    this.call(t, 'clone_with_pids', SYS_CLONE_WITH_PIDS, flags, pids.length ? a : 0, prog);
    return this.child(t);
  }

  unshare(t: TaskHandle, flags: number): void {
    this.call(t, 'unshare', SYS_UNSHARE, flags);
  }

  /** exit(code): `{blocked}` while the exit waits (a namespace init zapping its namespace). */
  exit(t: TaskHandle, code = 0): CallResult {
    const r = this.syscall(t, 'exit', SYS_EXIT, code);
    if ('value' in r) this.value('exit', r);
    return r;
  }

  exitGroup(t: TaskHandle, code = 0): CallResult {
    const r = this.syscall(t, 'exit_group', SYS_EXIT_GROUP, code);
    if ('value' in r) this.value('exit_group', r);
    return r;
  }

  /** wait4(pid, options): `{pid, status}` (pid 0 for WNOHANG with nothing yet) or `{blocked}`. */
  wait4(t: TaskHandle, pid: number, o: WaitOptions = {}): WaitResult {
    const options = (o.options ?? 0) | (o.nohang ? WNOHANG : 0) | (o.all ? __WALL : 0) | (o.clone ? __WCLONE : 0) | (o.nothread ? __WNOTHREAD : 0);
    const r = this.syscall(t, 'wait4', SYS_WAIT4, pid, options);
    if ('blocked' in r) return { blocked: true };
    const v = this.value('wait4', r);
    return { pid: v, status: v > 0 ? mem[t.addr + TASK.last_status]! : 0 };
  }

  /**
   * waitid(idtype, id, infop, options) (idtype P_ALL / P_PID / P_PGID / P_PIDFD from
   * src/kernel/exit.ts; options WEXITED, WSTOPPED, WCONTINUED, WNOHANG, WNOWAIT ...): the siginfo
   * `{signo, code, pid, status}` (signo 0 for WNOHANG with nothing yet) or `{blocked}`.
   * Errors (EINVAL, ECHILD, EBADF, EAGAIN ...) throw KernelError.
   */
  waitid(t: TaskHandle, idtype: number, id: number, options: number): WaitidResult {
    const r = this.syscall(t, 'waitid', SYS_WAITID, idtype, id, options);
    if ('blocked' in r) return { blocked: true };
    this.value('waitid', r);
    return this.siginfo(t);
  }

  private siginfo(t: TaskHandle): WaitidInfo {
    return {
      signo: mem[t.addr + TASK.wait_si_signo]!, code: mem[t.addr + TASK.wait_si_code]!,
      pid: mem[t.addr + TASK.wait_si_pid]!, status: mem[t.addr + TASK.wait_si_status]!,
    };
  }

  kill(t: TaskHandle, pid: number, sig: number): void {
    this.call(t, 'kill', SYS_KILL, pid, sig);
  }

  /** sigaction(SIGCHLD, SIG_IGN or SIG_DFL). */
  sigchldIgnore(t: TaskHandle, on = true): void {
    this.call(t, 'sigaction', SYS_SET_SIGCHLD_IGN, on ? 1 : 0);
  }

  /**
   * rt_sigaction(sig, handler, flags): handler 'default' | 'ignore' | 'catch' (a handler: the model
   * records its delivery, see sigCaught); flags SA_RESTART, and SA_NOCLDSTOP / SA_NOCLDWAIT for SIGCHLD.
   */
  sigaction(t: TaskHandle, sig: number, handler: 'default' | 'ignore' | 'catch', flags = 0): void {
    this.call(t, 'rt_sigaction', SYS_RT_SIGACTION, sig, handler === 'ignore' ? SIG_IGN : handler === 'catch' ? SIG_CAUGHT : SIG_DFL, flags);
  }

  /** rt_sigprocmask(how, set): SIG_BLOCK / SIG_UNBLOCK / SIG_SETMASK with a mask (bit sig-1); returns the old mask. */
  sigprocmask(t: TaskHandle, how: number, set: number): number {
    return this.call(t, 'rt_sigprocmask', SYS_RT_SIGPROCMASK, how, set);
  }

  /** The signals whose handler ran in t since the last call (a mask, bit sig-1), then cleared. */
  sigCaught(t: TaskHandle): number {
    return this.call(t, 'sig_caught', SYS_SIG_CAUGHT);
  }

  /** Write one extent "first lower count" to t's own /proc/self/uid_map or gid_map (map_write). */
  idMapWrite(t: TaskHandle, which: 'uid' | 'gid', first: number, lower: number, count: number): void {
    this.call(t, `${which}_map`, which === 'uid' ? SYS_UID_MAP_WRITE : SYS_GID_MAP_WRITE, first, lower, count);
  }

  /** Write "allow" or "deny" to t's own /proc/self/setgroups. */
  setgroupsWrite(t: TaskHandle, allow: boolean): void {
    this.call(t, 'setgroups', SYS_SETGROUPS_WRITE, allow ? 1 : 0);
  }

  /** pidfd_send_signal(pidfd, sig, NULL, flags). */
  pidfdSendSignal(t: TaskHandle, fd: number, sig: number, flags = 0): void {
    this.call(t, 'pidfd_send_signal', SYS_PIDFD_SEND_SIGNAL, fd, sig, flags);
  }

  /** setsid(): the new session id. */
  setsid(t: TaskHandle): number {
    return this.call(t, 'setsid', SYS_SETSID);
  }

  /** Stopped by a job-control signal (task_is_stopped: JOBCTL_STOPPED): it runs no call until SIGCONT. */
  isStopped(t: TaskHandle): boolean {
    this.machine.attach();
    return this.exists(t) && (mem[t.addr + TASK.jobctl]! & JOBCTL_STOPPED) !== 0;
  }

  /** pause(): blocks until a signal. */
  pause(t: TaskHandle): CallResult {
    return this.syscall(t, 'pause', SYS_PAUSE);
  }

  getpid(t: TaskHandle): number {
    return this.call(t, 'getpid', SYS_GETPID);
  }

  /** gettid(2): t's own thread id in its active pid namespace (task_pid_vnr). */
  gettid(t: TaskHandle): number {
    return this.call(t, 'gettid', SYS_GETTID);
  }

  getppid(t: TaskHandle): number {
    return this.call(t, 'getppid', SYS_GETPPID);
  }

  prctl(t: TaskHandle, option: number, arg = 0): number {
    return this.call(t, 'prctl', SYS_PRCTL, option, arg);
  }

  setuid(t: TaskHandle, uid: number): void {
    this.call(t, 'setuid', SYS_SETUID, uid);
  }

  capset(t: TaskHandle, caps: number): void {
    this.call(t, 'capset', SYS_CAPSET, caps);
  }

  ptrace(t: TaskHandle, request: number, pid: number): number {
    return this.call(t, 'ptrace', SYS_PTRACE, request, pid);
  }

  reboot(t: TaskHandle, cmd: number): CallResult {
    const r = this.syscall(t, 'reboot', SYS_REBOOT, cmd);
    if ('value' in r) this.value('reboot', r);
    return r;
  }

  /** synchronize_rcu_tasks() as task t (may block: see entries 1-2 of the catalog). */
  synchronizeRcuTasks(t: TaskHandle): CallResult {
    const r = this.syscall(t, 'synchronize_rcu_tasks', SYS_SYNCHRONIZE_RCU_TASKS);
    if ('value' in r) this.value('synchronize_rcu_tasks', r);
    return r;
  }

  // ---- namespaces, nsfs, pidfds (K3's system calls) --------------------------------------------------

  setns(t: TaskHandle, fd: number, flags = 0): void {
    this.call(t, 'setns', SYS_SETNS, fd, flags);
  }

  pidfdOpen(t: TaskHandle, pid: number, flags = 0): number {
    return this.call(t, 'pidfd_open', SYS_PIDFD_OPEN, pid, flags);
  }

  /** open /proc/PID/ns/KIND as t sees PID: returns the fd. */
  openNs(t: TaskHandle, pid: number, kind: keyof typeof NS_KIND | number): number {
    const k = typeof kind === 'number' ? kind : NS_KIND[kind];
    if (k === undefined) throw new Error(`openNs: unknown kind ${String(kind)}`);
    return this.call(t, 'open_ns', SYS_OPEN_NS, pid, k);
  }

  close(t: TaskHandle, fd: number): void {
    this.call(t, 'close', SYS_CLOSE, fd);
  }

  /** memfd_create(2): an fd of a plain file (no namespace, no pid). */
  memfdCreate(t: TaskHandle): number {
    return this.call(t, 'memfd_create', SYS_MEMFD_CREATE);
  }

  /** fstat(2): `{ino, dev}` (st_ino unsigned). Two nsfs fds name the same namespace iff both match. */
  fstat(t: TaskHandle, fd: number): { ino: number; dev: number } {
    this.call(t, 'fstat', SYS_FSTAT, fd);
    return { ino: mem[t.addr + TASK.stat_ino]! >>> 0, dev: mem[t.addr + TASK.stat_dev]! };
  }

  /**
   * read /proc/sys/kernel/ns_last_pid as t. The read does not fail: what it returns is the value,
   * and -1 is one (no pid of the namespace came from its cursor: none yet, or every one from
   * set_tid / clone_with_pids).
   */
  nsLastPid(t: TaskHandle): number {
    const r = this.syscall(t, 'ns_last_pid', SYS_NS_LAST_PID_READ);
    return 'value' in r ? r.value : this.value('ns_last_pid', r);
  }

  setNsLastPid(t: TaskHandle, v: number): void {
    this.call(t, 'ns_last_pid', SYS_NS_LAST_PID_WRITE, v);
  }

  /** read /proc/sys/kernel/pid_max as t: the pid_max of t's active pid namespace (6.14+). */
  pidMax(t: TaskHandle): number {
    return this.call(t, 'pid_max', SYS_PID_MAX_READ);
  }

  /** write /proc/sys/kernel/pid_max as t (EACCES read-only, EINVAL outside pid_max_min..PID_MAX_LIMIT). */
  setPidMax(t: TaskHandle, v: number): void {
    this.call(t, 'pid_max', SYS_PID_MAX_WRITE, v);
  }

  /** ioctl(fd, PIDNS_REQ_SET_LAST_PID_VEC, "p3:p2:p1") (seed 001). */
  setLastPidVec(t: TaskHandle, fd: number, vec: string): void {
    this.machine.attach();
    const a = vec.length <= SCRATCH_WORDS - 1024 ? this.scratch + 1024 : this.machine.alloc(vec.length);
    for (let i = 0; i < vec.length; i++) mem[a + i] = vec.charCodeAt(i);
    this.call(t, 'ioctl', SYS_PIDNS_IOCTL_SET_LAST_PID_VEC, fd, a, vec.length);
  }

  // ---- inspection ----------------------------------------------------------------------------------

  /**
   * NSpid of /proc/PID/status as read from init's view: the task's numbers from level 0
   * (init_pid_ns) down to its own namespace's level. Empty for a released task.
   */
  nspid(t: TaskHandle): number[] {
    this.machine.attach();
    if (!this.exists(t)) return [];
    const pid = mem[t.addr + TASK.pid]!;
    return pid ? nspid_of(pid) : [];
  }

  /** The pid of task `target` as task `viewer` sees it (0: not visible). No system call. */
  pidIn(viewer: TaskHandle, target: TaskHandle): number {
    this.machine.attach();
    if (!this.exists(target) || !this.exists(viewer)) return 0;
    return pid_nr_ns(mem[target.addr + TASK.tgid_pid]!, task_active_pid_ns(viewer.addr));
  }

  /** Level of the task's active pid namespace. */
  level(t: TaskHandle): number {
    this.machine.attach();
    const ns = task_active_pid_ns(t.addr);
    return ns ? mem[ns + PIDNS.level]! : -1;
  }

  /** A user program in the program region (instructions [op, a, b, c]). */
  program(insns: ReadonlyArray<readonly number[]>, name?: string): number {
    return this.machine.program(insns, name);
  }

  /** Run every CPU as a worker thread (see Machine.run). */
  async runWorkers(opts: RunOptions = {}): Promise<RunResult> {
    return this.machine.run(opts);
  }

  /** Live tasks (G.nr_threads: hashed tasks, zombies included). */
  nrThreads(): number {
    this.machine.attach();
    return Atomics.load(mem, kg + G.nr_threads);
  }

  /**
   * Let everything settle: run CPU 0, report quiescent states for every CPU, complete grace periods
   * and run every CPU's RCU callbacks (callbacks free objects and may queue more), until no callback
   * is pending and nothing is runnable.
   */
  quiesce(): void {
    const n = this.machine.config.ncpus;
    for (let round = 0; round < 64; round++) {
      this.machine.runInProcess();
      set_current(0);
      for (let i = 0; i < n; i++) {
        set_this_cpu(i);
        rcu_note_context_switch();
      }
      rcu_try_complete_gp();
      for (let i = 0; i < n; i++) {
        set_this_cpu(i);
        rcu_do_batch();
      }
      set_this_cpu(0);
      let runnable = 0;
      for (let i = 0; i < n; i++) runnable += Atomics.load(mem, cpu_addr(i) + CPU.rq_nr);
      if (rcu_callbacks_pending() === 0 && runnable === 0) return;
    }
  }

  /** The kernel audit (audit_kernel) after quiesce(); empty when consistent. */
  audit(): string[] {
    this.quiesce();
    return audit_kernel({ baseline: this.baseline });
  }
}

export { WCHAN_PAUSE };
