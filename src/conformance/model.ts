// Runs a conformance script on the MODEL through the scripting API
// (src/api.ts), producing the same OpResult records as the real-kernel
// driver (native/pidns_driver.c).  This file is the model-side twin of the
// driver: it keeps the driver's bookkeeping (handles, fd handles, visibility,
// which tasks "died" or "hung" in an op) and asks the model only what a
// process could ask the real kernel.
//
// The host level.  The driver runs in the machine's initial pid namespace and
// does unshare(CLONE_NEWPID) + fork: task 0 is pid 1 of a fresh namespace at
// ABSOLUTE level 1, and every NSpid it prints is cut to start there (relative
// level 0).  The model does exactly the same by default ("host" mode): the
// model's init plays the driver process (a task in init_pid_ns, outside the
// tree), unshares CLONE_NEWPID and forks task 0; the model's level-0 numbers
// are cut off like the host's.  So the depth limit (MAX_PID_NS_LEVEL = 32
// counted from the initial namespace: 31 levels below the tree root), the
// set_tid size limit (level + 1 entries counted from the initial namespace),
// getppid/PPid of task 0 (its parent is outside the tree) and reboot in task
// 0's namespace (a child namespace: kills task 0) are the same on both sides.
// mode 'init' instead lets the model's init play task 0 itself (the model's
// init_pid_ns is the tree root): then the model nests one level deeper than
// the real tree, set_tid arrays may be one entry shorter, and reboot/exit of
// task 0 mean something else (the global init): only for experiments.
//
// What the adapter emulates rather than asks the model (documented in
// compare.ts): the interruption of a blocking wait4 after the
// driver's 2 s bound (the driver's SIGALRM handler without SA_RESTART: the
// adapter installs one on the model task too and sends SIGALRM, so wait4
// returns -EINTR), and the driver's unresponsive verdict for a stopped task.
import { Kernel, KernelError, type CallResult, type KernelOptions, type TaskHandle } from '../api.js';
import { FILE, PIDNS, TASK, NSPROXY } from '../mm/layout.js';
import { mem, PID_MAX_LIMIT, regions, SLAB_FILE } from '../mm/memory.js';
import { task_fds } from '../kernel/nsfs.js';
import { find_pid_ns, nspid_from, pid_task, PIDTYPE_PID, task_active_pid_ns } from '../kernel/pid.js';
import { SYS_KILL, SYS_NS_LAST_PID_READ, SYS_PIDFD_SEND_SIGNAL } from '../kernel/unistd.js';
import {
  LINUX_REBOOT_CMD_CAD_OFF, LINUX_REBOOT_CMD_CAD_ON, LINUX_REBOOT_CMD_HALT, LINUX_REBOOT_CMD_POWER_OFF,
  LINUX_REBOOT_CMD_RESTART, LINUX_REBOOT_CMD_RESTART2,
} from '../kernel/pid_namespace.js';
import {
  CLD_DUMPED, CLD_EXITED, CLD_KILLED, EXIT_ZOMBIE, PF_EXITING, SA_NOCLDSTOP, SA_NOCLDWAIT, SA_RESTART, SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK, SIGALRM, SIGCHLD,
  WCONTINUED, WEXITED, WNOHANG, WNOWAIT, WSTOPPED, WUNTRACED,
} from '../kernel/sched_task.js';
import { P_PIDFD } from '../kernel/exit.js';
import { send_sig } from '../kernel/signal.js';
import { TASK_DEAD } from '../sched/core.js';
import type { Runner } from './run.js';
import { normTarget, signalNumber, type NsFlag, type Op, type OpResult, type TargetSpec, type TaskState, type WaitStatus } from './script.js';
import { CLONE_NEWPID } from '../kernel/clone_flags.js';


export interface ModelRunOptions {
  /** 'host' (default): the model's init plays the driver process, task 0 is forked into a new pid namespace. */
  mode?: 'host' | 'init';
  /**
   * The model's configured pid_max: the size of every pid bitmap and the
   * initial namespace's pid_max.  The namespaces of the tree keep their own
   * pid_max (PID_MAX_LIMIT when created, Linux >= 6.14), so the default is
   * PID_MAX_LIMIT: the bitmaps then never run out before a namespace's limit.
   */
  pidMax?: number;
  /** Run k.audit() after tearing the tree down; problems are reported on the last result as `audit`. Default true. */
  audit?: boolean;
  /** Check after every op that every task's pid_for_children is its active pid namespace or a descendant. Default true. */
  checkNs?: boolean;
  kernel?: KernelOptions;
}

const CLONE_BITS: Record<NsFlag, number> = {
  newpid: 0x20000000,
  newuser: 0x10000000,
  newns: 0x00020000,
  newmnt: 0x00020000,
  newnet: 0x40000000,
  newuts: 0x04000000,
  newipc: 0x08000000,
  newcgroup: 0x02000000,
  newtime: 0x00000080,
};

const REBOOT_CMD: Record<string, number> = {
  restart: LINUX_REBOOT_CMD_RESTART,
  restart2: LINUX_REBOOT_CMD_RESTART2,
  halt: LINUX_REBOOT_CMD_HALT,
  poweroff: LINUX_REBOOT_CMD_POWER_OFF,
  cad_on: LINUX_REBOOT_CMD_CAD_ON,
  cad_off: LINUX_REBOOT_CMD_CAD_OFF,
};

/** The driver copies flag/kind tokens into char[32]: longer ones are cut to 31 characters. */
const kindS = (s: string): string => s.slice(0, 31);
const flagsText = (flags: readonly NsFlag[]): string => kindS(flags.length === 0 ? '0' : flags.join('|'));
const nsBits = (flags: readonly NsFlag[]): number => flags.reduce((b, f) => b | CLONE_BITS[f], 0);

type DState = 'none' | 'alive' | 'exited' | 'reaped';

/** The driver's struct task, for the model. */
interface H {
  st: DState;
  t: TaskHandle;
  /** level relative to the tree root */
  level: number;
  /** pids from the tree root down */
  nspid: number[];
  /** namespace identity (inum) per relative level */
  nsino: number[];
  unresponsive: boolean;
}

/** Decode a wait status the way the driver does (WIFEXITED, WIFSIGNALED, WIFSTOPPED, WIFCONTINUED). */
export function decodeStatus(st: number): WaitStatus | null {
  if ((st & 0x7f) === 0) return { exited: (st >> 8) & 0xff };
  if (st === 0xffff) return { continued: true };
  if ((st & 0xff) === 0x7f) return { stopped: (st >> 8) & 0xff };
  return { signaled: st & 0x7f, core: (st & 0x80) !== 0 };
}

class ModelDriver {
  readonly k: Kernel;
  readonly T: H[] = [];
  /** fd handle -> fd number in the "driver's" table (the model's init plays the driver process) */
  readonly F = new Map<number, number>();
  readonly base: number;
  readonly driver: TaskHandle;
  readonly results: OpResult[] = [];
  readonly checkNs: boolean;
  readonly violations: string[] = [];

  constructor(o: ModelRunOptions) {
    this.k = Kernel.create({ ncpus: 1, maxTasks: 1024, pidMax: o.pidMax ?? PID_MAX_LIMIT, ...o.kernel });
    this.checkNs = o.checkNs ?? true;
    let t0: TaskHandle;
    if ((o.mode ?? 'host') === 'host') {
      // the driver process: a task of init_pid_ns (outside the tree) that
      // does start_tree(): unshare(CLONE_NEWPID) + fork; the child is task 0
      this.driver = this.k.fork(this.k.init);
      this.k.unshare(this.driver, CLONE_NEWPID);
      t0 = this.k.fork(this.driver);
      this.base = 1;
      this.setsid(t0);
    } else {
      this.driver = this.k.init;
      t0 = this.k.init;
      this.base = 0;
    }
    this.register(0, t0);
  }

  /**
   * Task 0 calls setsid() in the driver, so that kill(0, sig) inside the tree
   * (its process group) cannot reach the driver, and the tree's process group
   * is orphaned (its only outside parent is in another session: SIGTSTP,
   * SIGTTIN and SIGTTOU do not stop it).  The model's task 0 does the same.
   */
  setsid(t0: TaskHandle): void {
    this.k.setsid(t0);
  }

  // ------------------------------------------------------------ bookkeeping

  register(h: number, t: TaskHandle): void {
    this.k.machine.attach();
    const nspid = this.k.nspid(t).slice(this.base);
    const level = nspid.length - 1;
    const nsino: number[] = [];
    for (let ns = task_active_pid_ns(t.addr); ns !== 0; ns = mem[ns + PIDNS.parent]!) {
      const lv = mem[ns + PIDNS.level]! - this.base;
      if (lv < 0) break;
      nsino[lv] = mem[ns + PIDNS.inum]!;
    }
    this.T[h] = { st: 'alive', t, level, nspid, nsino, unresponsive: false };
  }

  h(x: number): H | undefined {
    return this.T[x];
  }

  /** vpid(): pid of x as t sees it from the driver's bookkeeping, 0 if not visible. */
  vpid(t: number, x: number): number {
    const a = this.T[t];
    const b = this.T[x];
    if (!a || !b || a.st === 'none' || b.st === 'none') return 0;
    const L = a.level;
    if (b.level < L || b.nsino[L] !== a.nsino[L]) return 0;
    return b.nspid[L]!;
  }

  handleOfVpid(t: number, pid: number): number | null {
    let best: number | null = null;
    if (pid <= 0) return null;
    for (let x = 0; x < 256; x++) {
      const b = this.T[x];
      if (!b || b.st === 'none' || this.vpid(t, x) !== pid) continue;
      if (b.st !== 'reaped') return x;
      best = x;
    }
    return best;
  }

  handleOfTask(addr: number): number | null {
    for (let x = 0; x < 256; x++) {
      const b = this.T[x];
      if (b && b.st !== 'none' && b.st !== 'reaped' && b.t.addr === addr && this.k.exists(b.t)) return x;
    }
    return null;
  }

  /** The model's view of a task: what the driver could observe with a pidfd and /proc. */
  phase(t: TaskHandle): 'alive' | 'exiting' | 'zombie' | 'gone' {
    this.k.machine.attach();
    if (!this.k.exists(t)) return 'gone';
    const es = mem[t.addr + TASK.exit_state]!;
    if (es !== 0) return es === EXIT_ZOMBIE ? 'zombie' : 'gone';
    if ((mem[t.addr + TASK.flags]! & PF_EXITING) !== 0 || Atomics.load(mem, t.addr + TASK.state) === TASK_DEAD) return 'exiting';
    return 'alive';
  }

  // -------------------------------------------------------- driver helpers

  /** check_task(): the error text of the driver, or undefined when the task may act. */
  checkTask(x: number): string | undefined {
    const b = this.T[x];
    if (!b || b.st === 'none') return `task ${x} does not exist`;
    if (b.st !== 'alive') return `task ${x} is dead`;
    // The driver finds a stopped task unresponsive (its settle pings and re-ping go unanswered).
    if (this.k.isStopped(b.t)) return `task ${x} is unresponsive (stopped?)`;
    return undefined;
  }

  /** The acting task did not come back from its call (the driver's rpc_fail: its channel closed). */
  diedDuring(x: number): boolean {
    const b = this.T[x]!;
    if (this.phase(b.t) === 'alive') return false;
    b.st = 'exited';
    return true;
  }

  /** resolve_target(): pid as t sees it, or undefined when a handle target is not visible. */
  resolve(t: number, target: TargetSpec): number | undefined {
    const n = normTarget(target);
    if ('raw' in n) return n.raw;
    const p = this.vpid(t, n.handle);
    return p > 0 ? p : undefined;
  }

  /**
   * settle(): which handles died or hung during the op.  The model has run to
   * quiescence: a task the driver still believes alive is dead if it is a
   * zombie or gone, hung if it began exiting and is stuck (an init waiting in
   * zap_pid_ns_processes).
   */
  settle(actor: number | undefined): { died: number[]; hung: number[] } {
    const died: number[] = [];
    const hung: number[] = [];
    const consider = (x: number): void => {
      const b = this.T[x]!;
      const ph = this.phase(b.t);
      if (ph === 'alive') return;
      b.st = 'exited';
      (ph === 'exiting' ? hung : died).push(x);
    };
    if (actor !== undefined && this.T[actor]?.st === 'alive') {
      const b = this.T[actor]!;
      const ph = this.phase(b.t);
      b.st = 'exited';
      (ph === 'exiting' || ph === 'alive' ? hung : died).push(actor);
    }
    for (let x = 0; x < 256; x++) if (this.T[x]?.st === 'alive') consider(x);
    return { died: died.sort((a, b) => a - b), hung: hung.sort((a, b) => a - b) };
  }

  /** The file record of fd in task t's table. */
  file(t: TaskHandle, fd: number): number {
    this.k.machine.attach();
    const r = regions.objects[SLAB_FILE]!;
    for (let i = 0; i < r.count; i++) {
      const f = r.base + i * r.stride;
      if (mem[f + FILE.owner] === t.addr && mem[f + FILE.fd] === fd && mem[f + FILE.poison] === 0x4c495645) return f;
    }
    return 0;
  }

  /** Move an open file from one task's table to another's (SCM_RIGHTS + close in the sender): the new fd. */
  moveFile(from: TaskHandle, fd: number, to: TaskHandle): number {
    const f = this.file(from, fd);
    if (!f) throw new Error(`model adapter: fd ${fd} of task ${from.id} not found`);
    const used = new Set(task_fds(to.addr));
    let nfd = 3;
    while (used.has(nfd)) nfd++;
    mem[f + FILE.owner] = to.addr;
    mem[f + FILE.fd] = nfd;
    return nfd;
  }

  /**
   * The task sends fd to the driver and closes its own (SCM_RIGHTS): the driver keeps it as fd
   * handle h, closing what h held before.
   */
  sendToDriver(t: TaskHandle, fd: number, h: number): void {
    const dfd = this.moveFile(t, fd, this.driver);
    const old = this.F.get(h);
    if (old !== undefined) this.k.close(this.driver, old);
    this.F.set(h, dfd);
  }

  /**
   * The driver's wait timer: its task installed a SIGALRM handler without SA_RESTART before the
   * blocking wait4 (the adapter did the same, alarmHandler); the itimer's SIGALRM, a kernel
   * signal, interrupts the wait and wait4 returns -EINTR. The handler's run is not a script's.
   */
  interrupt(t: TaskHandle): void {
    this.k.machine.attach();
    send_sig(SIGALRM, t.addr, true);
    try {
      this.k.result(t);
    } catch {
      /* -EINTR */
    }
    this.k.machine.attach();
    mem[t.addr + TASK.sig_caught] = mem[t.addr + TASK.sig_caught]! & ~(1 << (SIGALRM - 1));
  }

  /** pid_for_children of every live tree task must be its active pid namespace or a descendant. */
  checkNamespaces(i: number): void {
    this.k.machine.attach();
    for (let x = 0; x < 256; x++) {
      const b = this.T[x];
      if (!b || b.st !== 'alive' || this.phase(b.t) !== 'alive') continue;
      const active = task_active_pid_ns(b.t.addr);
      const np = mem[b.t.addr + TASK.nsproxy]!;
      if (!np || !active) continue;
      let pfc = mem[np + NSPROXY.pid_ns_for_children]!;
      const al = mem[active + PIDNS.level]!;
      while (pfc && mem[pfc + PIDNS.level]! > al) pfc = mem[pfc + PIDNS.parent]!;
      if (pfc !== active) this.violations.push(`op ${i}: task ${x}'s pid_for_children is not its active pid namespace or a descendant`);
    }
  }

  // ------------------------------------------------------------------ ops

  run(ops: readonly Op[]): OpResult[] {
    ops.forEach((o, i) => {
      let r: OpResult;
      try {
        r = this.op(i, o);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        r = { i, op: o.op, ...('t' in o ? { t: o.t } : {}), ret: null, errno: null, error: `model: ${msg}` };
      }
      this.results.push(r);
      if (this.checkNs) this.checkNamespaces(i);
    });
    if (this.violations.length > 0) {
      const last = this.results[this.results.length - 1];
      if (last) (last as unknown as Record<string, unknown>)['ns_violations'] = this.violations;
    }
    return this.results;
  }

  private errOf(e: unknown): string {
    if (e instanceof KernelError) return e.code;
    throw e;
  }

  /** Run a model call returning a value: [ret, errno]. */
  private sys(f: () => number | void): [number, string | null] {
    try {
      const v = f();
      return [typeof v === 'number' ? v : 0, null];
    } catch (e) {
      return [-1, this.errOf(e)];
    }
  }

  op(i: number, o: Op): OpResult {
    const head = (extra: Partial<OpResult> = {}): OpResult => ({ i, op: o.op, ...('t' in o ? { t: o.t } : {}), ...extra }) as OpResult;
    const error = (msg: string): OpResult => head({ ret: null, errno: null, error: msg });
    if (o.op === 'state') return { i, op: 'state', tasks: this.state() } as OpResult;
    if (o.op === 'sleep') return { i, op: 'sleep', ms: o.ms } as unknown as OpResult;
    if (o.op === 'close') {
      const fd = this.F.get(o.f);
      if (fd === undefined) return { i, op: 'close', f: o.f, ret: -1, errno: 'EBADF' };
      this.F.delete(o.f);
      this.k.close(this.driver, fd);
      return { i, op: 'close', f: o.f, ret: 0, errno: null };
    }
    if (o.op === 'samefile') {
      // the driver fstats both of its fds; only the relation is compared (compare.ts)
      const a = this.F.get(o.f);
      const b = this.F.get(o.g);
      if (a === undefined || b === undefined) return error(`fd handle ${a === undefined ? o.f : o.g} is not open`);
      const sa = this.k.fstat(this.driver, a);
      const sb = this.k.fstat(this.driver, b);
      return { i, op: 'samefile', f: o.f, g: o.g, ret: 0, errno: null, same: sa.dev === sb.dev && sa.ino === sb.ino };
    }
    const bad = this.checkTask(o.t);
    if (bad !== undefined) return error(bad);
    const me = this.T[o.t]!;
    const t = me.t;
    const k = this.k;

    switch (o.op) {
      case 'fork':
      case 'clone3': {
        if (this.T[o.c] && this.T[o.c]!.st !== 'none') return error(`handle ${o.c} already used`);
        const flags = o.newpid ? CLONE_NEWPID : 0;
        let child: TaskHandle | undefined;
        let pidfd = -1;
        const setTid = o.op === 'clone3' && o.setTid.length > 0 ? { setTid: o.setTid } : {};
        const [ret, errno] = this.sys(() => {
          if (o.op === 'clone3' && o.pidfd !== undefined) {
            // CLONE_PIDFD: the pidfd comes back through args->pidfd
            ({ child, pidfd } = k.forkPidfd(t, { flags, clone3: true, ...setTid }));
          } else {
            child = o.op === 'fork' ? k.fork(t, { flags }) : k.clone3(t, { flags, ...setTid });
          }
          return k.pidIn(t, child);
        });
        const r = head({ c: o.c, ...(o.op === 'clone3' && o.pidfd !== undefined ? { f: o.pidfd } : {}), ret, errno });
        if (o.op === 'clone3' && o.pidfd !== undefined && ret > 0) {
          this.sendToDriver(t, pidfd, o.pidfd);
        }
        if (ret > 0 && child) {
          this.register(o.c, child);
          const b = this.T[o.c]!;
          r.nspid = b.nspid;
          r.level = b.level;
        }
        return r;
      }
      case 'unshare': {
        const [ret, errno] = this.sys(() => k.unshare(t, nsBits(o.flags)));
        const r = head({ flags: flagsText(o.flags), ret, errno });
        if (o.flags.includes('newuser') && ret === 0) {
          // the driver's task writes setgroups "deny", uid_map "0 0 1", gid_map "0 0 1" for itself
          const e = (f: () => void): string | null => this.sys(f)[1];
          r.maps = {
            setgroups: e(() => k.setgroupsWrite(t, false)),
            uid_map: e(() => k.idMapWrite(t, 'uid', 0, 0, 1)),
            gid_map: e(() => k.idMapWrite(t, 'gid', 0, 0, 1)),
          };
        }
        return r;
      }
      case 'dropcaps': {
        const [ret, errno] = this.sys(() => k.capset(t, 0));
        return head({ ret, errno });
      }
      case 'getppid': {
        const [ret, errno] = this.sys(() => k.getppid(t));
        return head({ ret, errno, parent: this.handleOfVpid(o.t, ret) });
      }
      case 'lastpid_read': {
        // Not k.nsLastPid(): the value is read as text from /proc, -1 is a value
        // (a namespace whose pids were all given by set_tid), not -EPERM.
        const r = k.syscall(t, 'ns_last_pid', SYS_NS_LAST_PID_READ);
        if (!('value' in r)) throw new Error('ns_last_pid read did not return');
        return head({ ret: r.value, errno: null });
      }
      case 'lastpid_write': {
        const [ret, errno] = this.sys(() => k.setNsLastPid(t, o.value));
        return head({ value: o.value, ret, errno });
      }
      case 'sigaction': {
        const sig = signalNumber(o.sig);
        const flags = o.flags ?? [];
        const sa = (flags.includes('restart') ? SA_RESTART : 0) | (flags.includes('nocldstop') ? SA_NOCLDSTOP : 0) |
          (flags.includes('nocldwait') ? SA_NOCLDWAIT : 0);
        const [ret, errno] = this.sys(() => k.sigaction(t, sig, o.handler === 'dfl' ? 'default' : o.handler === 'ign' ? 'ignore' : 'catch', sa));
        if (this.diedDuring(o.t)) return error(`task ${o.t} died during the op`);
        return head({ sig, ret, errno });
      }
      case 'sigmask': {
        const how = o.how === 'block' ? SIG_BLOCK : o.how === 'unblock' ? SIG_UNBLOCK : SIG_SETMASK;
        const set = o.sigs.reduce<number>((m, x) => m | (1 << (signalNumber(x) - 1)), 0);
        const [ret, errno] = this.sys(() => { k.sigprocmask(t, how, set); });
        // unblocking a pending fatal signal kills the task before its reply (the driver's rpc_fail)
        if (this.diedDuring(o.t)) return error(`task ${o.t} died during the op`);
        return head({ ret, errno });
      }
      case 'idmap': {
        // The model's ids are 31-bit: ids past INT32_MAX are refused like a range that wraps.
        const [ret, errno] = o.first > 0x7fffffff || o.lower > 0x7fffffff || o.count > 0x7fffffff
          ? [-1, 'EINVAL'] : this.sys(() => k.idMapWrite(t, o.which, o.first, o.lower, o.count));
        return head({ ret, errno });
      }
      case 'setgroups': {
        const [ret, errno] = this.sys(() => k.setgroupsWrite(t, o.allow));
        return head({ ret, errno });
      }
      case 'caught': {
        // the driver's own SIGALRM handler (the wait timer) is not a script handler
        const m = k.sigCaught(t) & ~(1 << (SIGALRM - 1));
        const caught: number[] = [];
        for (let sig = 1; sig <= 31; sig++) if ((m & (1 << (sig - 1))) !== 0) caught.push(sig);
        return head({ ret: 0, errno: null, caught });
      }
      case 'pidmax_read': {
        const [ret, errno] = this.sys(() => k.pidMax(t));
        return head({ ret, errno });
      }
      case 'pidmax_write': {
        const [ret, errno] = this.sys(() => k.setPidMax(t, o.value));
        return head({ value: o.value, ret, errno });
      }
      case 'getpid': {
        const [ret, errno] = this.sys(() => k.getpid(t));
        const full = k.nspid(t);
        // /proc/self/status of the task's own proc view: NSpid from its own level
        const view = full.slice(full.length - 1);
        return head({ ret, errno, nspid: me.nspid, view });
      }
      case 'exit':
      case 'reboot': {
        let returned = false;
        let ret: number | null = null;
        let errno: string | null = null;
        if (o.op === 'exit') k.exit(t, o.code);
        else {
          let cr: CallResult | undefined;
          try {
            cr = k.reboot(t, REBOOT_CMD[o.cmd]!);
          } catch (e) {
            returned = true;
            ret = -1;
            errno = this.errOf(e);
          }
          if (cr && 'value' in cr) {
            returned = true;
            ret = cr.value;
          }
        }
        const { died, hung } = this.settle(returned ? undefined : o.t);
        if (o.op === 'exit') return head({ code: o.code, ret: null, errno: null, died, hung });
        return head({ cmd: o.cmd, ret, errno, returned, died, hung });
      }
      case 'wait': {
        const pid = this.resolve(o.t, o.target);
        if (pid === undefined) return this.invisible(i, o);
        const opts = o.options ?? [];
        let st = 0;
        let ret: number | null;
        let errno: string | null = null;
        let timeout = false;
        const blocking = !opts.includes('wnohang');
        // the driver's task: sigaction(SIGALRM, handler without SA_RESTART) around the wait
        if (blocking) k.sigaction(t, SIGALRM, 'catch');
        try {
          const w = k.wait4(t, pid, {
            nohang: opts.includes('wnohang'),
            all: opts.includes('wall'),
            clone: opts.includes('wclone'),
            nothread: opts.includes('wnothread'),
            options: (opts.includes('wuntraced') ? WUNTRACED : 0) | (opts.includes('wcontinued') ? WCONTINUED : 0),
          });
          if ('blocked' in w) {
            timeout = true;
            ret = null;
            this.interrupt(t);
          } else {
            ret = w.pid;
            st = w.status;
          }
        } catch (e) {
          ret = -1;
          errno = this.errOf(e);
        }
        if (blocking && this.phase(t) === 'alive' && !k.isStopped(t)) k.sigaction(t, SIGALRM, 'default');
        const r = head({ pid, ret, errno, timeout });
        if (ret !== null && ret > 0) {
          const who = this.handleOfVpid(o.t, ret);
          const status = decodeStatus(st);
          const reaps = status !== null && ('exited' in status || 'signaled' in status);
          r.who = who;
          r.reaped = reaps && who !== null ? who : null;
          r.status = status;
          if (reaps && who !== null) this.T[who]!.st = 'reaped';
        } else {
          r.who = null;
          r.reaped = null;
          r.status = null;
        }
        return r;
      }
      case 'kill': {
        const pid = this.resolve(o.t, o.target);
        if (pid === undefined) return this.invisible(i, o);
        const sig = signalNumber(o.sig);
        // the raw call: a task that kills itself may be gone when the call "returns"
        const cr = k.syscall(t, 'kill', SYS_KILL, pid, sig);
        let ret = 0;
        let errno: string | null = null;
        if ('value' in cr && cr.value < 0 && cr.value > -4096) {
          ret = -1;
          errno = new KernelError('kill', -cr.value).code;
        } else if ('blocked' in cr) throw new Error('kill blocked');
        const selfKilled = 'exited' in cr || this.phase(t) !== 'alive';
        const { died, hung } = this.settle(selfKilled ? o.t : undefined);
        if (selfKilled) return head({ pid, sig, ret: null, errno: null, killed_self: true, died, hung });
        return head({ pid, sig, ret, errno, died, hung });
      }
      case 'openns':
      case 'pidfd': {
        const pid = this.resolve(o.t, o.target);
        if (pid === undefined) return this.invisible(i, o);
        // openat(proc, "<pid>/ns/<kind>"): there is no /proc/0 or /proc/-1 (the
        // model's open_ns takes 0 to mean /proc/thread-self: never pass it)
        const [fd, errno] =
          o.op === 'openns' && pid <= 0
            ? [-1, 'ENOENT']
            : this.sys(() => (o.op === 'openns' ? k.openNs(t, pid, o.kind) : k.pidfdOpen(t, pid, 0)));
        const r = head({ pid, ...(o.op === 'openns' ? { kind: o.kind } : {}), f: o.f, ret: errno === null ? 0 : -1, errno });
        if (errno === null) {
          this.sendToDriver(t, fd, o.f);
        }
        return r;
      }
      case 'memfd': {
        const [fd, errno] = this.sys(() => k.memfdCreate(t));
        const r = head({ f: o.f, ret: errno === null ? 0 : -1, errno });
        if (errno === null) {
          this.sendToDriver(t, fd, o.f);
        }
        return r;
      }
      case 'waitid': {
        const dfd = this.F.get(o.f);
        if (dfd === undefined) return error(`fd handle ${o.f} is not open`);
        const tfd = this.moveFile(this.driver, dfd, t);
        const options = WNOHANG | (o.options.includes('exited') ? WEXITED : 0) | (o.options.includes('stopped') ? WSTOPPED : 0) |
          (o.options.includes('continued') ? WCONTINUED : 0) | (o.options.includes('nowait') ? WNOWAIT : 0);
        let ret = 0;
        let errno: string | null = null;
        let si: { signo: number; code: number; pid: number; status: number } | null = null;
        try {
          const w = k.waitid(t, P_PIDFD, tfd, options);
          if ('blocked' in w) throw new Error('waitid WNOHANG blocked');
          if (w.signo === SIGCHLD) si = w;
        } catch (e) {
          ret = -1;
          errno = this.errOf(e);
        }
        this.F.set(o.f, this.moveFile(t, tfd, this.driver));
        const r = head({ f: o.f, ret, errno });
        if (si) {
          const who = this.handleOfVpid(o.t, si.pid);
          const reaps = (si.code === CLD_EXITED || si.code === CLD_KILLED || si.code === CLD_DUMPED) && !o.options.includes('nowait');
          r.who = who;
          r.reaped = reaps && who !== null ? who : null;
          r.si = { signo: si.signo, code: si.code, status: si.status };
          if (reaps && who !== null) this.T[who]!.st = 'reaped';
        } else {
          r.who = null;
          r.reaped = null;
          r.si = null;
        }
        return r;
      }
      case 'pidfd_kill': {
        const dfd = this.F.get(o.f);
        if (dfd === undefined) return error(`fd handle ${o.f} is not open`);
        const sig = signalNumber(o.sig);
        const tfd = this.moveFile(this.driver, dfd, t);
        // the raw call: a task that signals itself fatally does not come back
        const cr = k.syscall(t, 'pidfd_send_signal', SYS_PIDFD_SEND_SIGNAL, tfd, sig, o.scope === 'thread' ? 1 : o.scope === 'pgroup' ? 4 : 0);
        let ret = 0;
        let errno: string | null = null;
        if ('value' in cr && cr.value < 0 && cr.value > -4096) {
          ret = -1;
          errno = new KernelError('pidfd_send_signal', -cr.value).code;
        } else if ('blocked' in cr) throw new Error('pidfd_send_signal blocked');
        const selfKilled = 'exited' in cr || this.phase(t) !== 'alive';
        if (selfKilled) this.F.delete(o.f); // went with the task's files (the driver keeps its copy: a rare difference)
        else this.F.set(o.f, this.moveFile(t, tfd, this.driver));
        const { died, hung } = this.settle(selfKilled ? o.t : undefined);
        if (selfKilled) return head({ f: o.f, sig, ret: null, errno: null, killed_self: true, died, hung });
        return head({ f: o.f, sig, ret, errno, died, hung });
      }
      case 'setns': {
        const dfd = this.F.get(o.f);
        if (dfd === undefined) return error(`fd handle ${o.f} is not open`);
        // the driver passes a copy to the task, which uses it and closes it
        const tfd = this.moveFile(this.driver, dfd, t);
        const [ret, errno] = this.sys(() => k.setns(t, tfd, nsBits(o.flags)));
        this.F.set(o.f, this.moveFile(t, tfd, this.driver));
        return head({ f: o.f, flags: flagsText(o.flags), ret, errno });
      }
      case 'nspid': {
        const pid = this.resolve(o.t, o.target);
        if (pid === undefined) return this.invisible(i, o);
        k.machine.attach();
        const ns = task_active_pid_ns(t.addr);
        const p = pid > 0 ? find_pid_ns(pid, ns) : 0;
        const task = p ? pid_task(p, PIDTYPE_PID) : 0;
        if (!task) return head({ pid, ret: -1, errno: 'ENOENT' });
        return head({ pid, ret: 0, errno: null, nspid: nspid_from(p, ns) });
      }
    }
  }

  invisible(i: number, o: { op: Op['op']; t: number; target: TargetSpec }): OpResult {
    const n = normTarget(o.target);
    return { i, op: o.op, t: o.t, target: 'handle' in n ? n.handle : n.raw, ret: null, errno: null, visible: false };
  }

  state(): TaskState[] {
    const out: TaskState[] = [];
    for (let x = 0; x < 256; x++) {
      const b = this.T[x];
      if (!b || b.st === 'none') continue;
      const ph = this.phase(b.t);
      let state: TaskState['state'] = 'alive';
      let ppid: number | null = null;
      if (b.st === 'reaped' || ph === 'gone') state = 'reaped';
      else {
        state = ph === 'zombie' ? 'zombie' : this.k.isStopped(b.t) ? 'stopped' : 'alive';
        ppid = this.handleOfTask(mem[b.t.addr + TASK.real_parent]!);
      }
      out.push({ h: x, state, ppid, nspid: b.nspid });
    }
    return out;
  }

  /**
   * cleanup(): SIGKILL task 0 from outside (zaps the tree), reap it, close
   * the driver's fds; then the driver exits and init reaps it, and the model
   * audits itself (nothing may be left allocated).
   */
  teardown(audit: boolean): string[] {
    const k = this.k;
    if (this.base !== 1) return [];
    const t0 = this.T[0]!.t;
    try {
      if (k.exists(t0)) {
        const pid = k.pidIn(this.driver, t0);
        if (this.phase(t0) === 'alive' || this.phase(t0) === 'exiting') k.kill(this.driver, pid, 9);
        const w = k.wait4(this.driver, pid, { all: true });
        if ('blocked' in w) return ['teardown: task 0 does not exit after SIGKILL (the tree hangs)'];
      }
      for (const fd of this.F.values()) k.close(this.driver, fd);
      this.F.clear();
      const dpid = k.pidIn(k.init, this.driver);
      k.exit(this.driver, 0);
      const w = k.wait4(k.init, dpid, {});
      if ('blocked' in w) return ['teardown: the driver task does not exit'];
    } catch (e) {
      return [`teardown: ${e instanceof Error ? e.message : String(e)}`];
    }
    return audit ? k.audit() : [];
  }
}

/** Run ops on a fresh model; one OpResult per op, like runOnRealKernel. */
export function runOnModel(ops: readonly Op[], o: ModelRunOptions = {}): OpResult[] {
  const d = new ModelDriver(o);
  const res = d.run(ops);
  const problems = d.teardown(o.audit ?? true);
  if (problems.length > 0) {
    const last = res[res.length - 1];
    if (last) (last as unknown as Record<string, unknown>)['audit'] = problems;
  }
  return res;
}

/** The model runner for run.ts. */
export function modelRunner(o: ModelRunOptions = {}): Runner | undefined {
  return (ops) => runOnModel(ops, o);
}
