// The conformance script contract shared by the real-kernel oracle
// (native/pidns_driver.c) and the model.  The text grammar and the output
// fields are documented at the top of native/pidns_driver.c; this module is
// its TypeScript mirror: op types, formatScript (ops -> text), parseScript
// (text -> ops) and parseResults (driver NDJSON -> OpResult[]).
//
// Grammar (one op per line, blank-separated tokens):
//   '#' as the first non-blank character: comment line.  Inside a line a
//   token "#N" (N a number, may be negative) is a RAW pid; any other '#'
//   starts a comment.
//   fork T C [newpid]               clone3 T C TIDS|- [newpid]
//   unshare T NSFLAGS               dropcaps T
//   exit T CODE                     wait T TARGET [wnohang] [wall] [wclone] [wnothread] [wuntraced] [wcontinued]
//   kill T TARGET SIG               openns T TARGET KIND F
//   pidfd T TARGET F                setns T F NSFLAGS
//   close F                         lastpid_read T
//   lastpid_write T VALUE           getpid T
//   getppid T                       nspid T TARGET
//   pidmax_read T                   pidmax_write T VALUE
//   sigaction T SIG dfl|ign|catch [restart] [nocldstop] [nocldwait]
//   sigmask T block|unblock|setmask SIGS|-                caught T
//   idmap T uid|gid FIRST LOWER COUNT                     setgroups T allow|deny
//   pidfd_kill T F SIG [thread|pgroup]
//   waitid T F [exited] [stopped] [continued] [nowait]   waitid(P_PIDFD, F, WNOHANG | ...)
//   memfd T F                       memfd_create as T into fd handle F
//   clone3 T C TIDS|- [newpid] pidfd F   with CLONE_PIDFD: args->pidfd into fd handle F
//   samefile F G                    fstat both: "same" = equal st_dev and st_ino (the relation only)
//   reboot T CMD                    state
//   sleep MS
//   T, C: task handles 0..255 (0 = init of the fresh pid namespace, exists at start)
//   TARGET: handle | -1 | #N       F: fd handle 0..255
//   NSFLAGS: 0 | flag('|'flag)*     flags: newpid newuser newns newmnt newnet newuts newipc newcgroup newtime
//   TIDS: comma list, tid[0] = innermost level (kernel set_tid order)

export const MAX_HANDLE = 255;
export const MAX_FD_HANDLE = 255;

export type Handle = number;

/** A handle (pid of that task as the acting task sees it) or a raw pid number. */
export type Target = { handle: Handle } | { raw: number };
/** Shorthand accepted wherever a Target is: n >= 0 is a handle, n < 0 a raw pid (e.g. -1). */
export type TargetSpec = Target | number;

export const NS_FLAGS = ['newpid', 'newuser', 'newns', 'newmnt', 'newnet', 'newuts', 'newipc', 'newcgroup', 'newtime'] as const;
export type NsFlag = (typeof NS_FLAGS)[number];

export const NS_KINDS = ['pid', 'pid_for_children', 'user', 'mnt', 'net', 'uts', 'ipc', 'cgroup', 'time', 'time_for_children'] as const;
export type NsKind = (typeof NS_KINDS)[number];

export const WAIT_OPTIONS = ['wnohang', 'wall', 'wclone', 'wnothread', 'wuntraced', 'wcontinued'] as const;
export type WaitOption = (typeof WAIT_OPTIONS)[number];

export const REBOOT_CMDS = ['restart', 'restart2', 'halt', 'poweroff', 'cad_on', 'cad_off'] as const;
export type RebootCmd = (typeof REBOOT_CMDS)[number];

/** Linux x86-64 signal numbers, by name without the SIG prefix. */
export const SIGNALS: Readonly<Record<string, number>> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11,
  USR2: 12, PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20,
  TTIN: 21, TTOU: 22, URG: 23, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29,
  PWR: 30, SYS: 31,
};
/** A signal number (0..64) or name ('KILL', 'SIGKILL'). */
export type Sig = number | string;

export type Op =
  | { op: 'fork'; t: Handle; c: Handle; newpid?: boolean }
  | { op: 'clone3'; t: Handle; c: Handle; setTid: readonly number[]; newpid?: boolean; pidfd?: number }
  | { op: 'unshare'; t: Handle; flags: readonly NsFlag[] }
  | { op: 'dropcaps'; t: Handle }
  | { op: 'exit'; t: Handle; code: number }
  | { op: 'wait'; t: Handle; target: TargetSpec; options?: readonly WaitOption[] }
  | { op: 'kill'; t: Handle; target: TargetSpec; sig: Sig }
  | { op: 'openns'; t: Handle; target: TargetSpec; kind: NsKind; f: number }
  | { op: 'pidfd'; t: Handle; target: TargetSpec; f: number }
  | { op: 'setns'; t: Handle; f: number; flags: readonly NsFlag[] }
  | { op: 'close'; f: number }
  | { op: 'memfd'; t: Handle; f: number }
  | { op: 'samefile'; f: number; g: number }
  | { op: 'lastpid_read'; t: Handle }
  | { op: 'lastpid_write'; t: Handle; value: number }
  | { op: 'pidmax_read'; t: Handle }
  | { op: 'pidmax_write'; t: Handle; value: number }
  | { op: 'sigaction'; t: Handle; sig: Sig; handler: SigHandler; flags?: readonly SaFlag[] }
  | { op: 'sigmask'; t: Handle; how: SigHow; sigs: readonly Sig[] }
  | { op: 'caught'; t: Handle }
  | { op: 'idmap'; t: Handle; which: 'uid' | 'gid'; first: number; lower: number; count: number }
  | { op: 'setgroups'; t: Handle; allow: boolean }
  | { op: 'pidfd_kill'; t: Handle; f: number; sig: Sig; scope?: 'thread' | 'pgroup' }
  | { op: 'waitid'; t: Handle; f: number; options: readonly WaitidOption[] }
  | { op: 'getpid'; t: Handle }
  | { op: 'getppid'; t: Handle }
  | { op: 'nspid'; t: Handle; target: TargetSpec }
  | { op: 'reboot'; t: Handle; cmd: RebootCmd }
  | { op: 'state' }
  | { op: 'sleep'; ms: number };

export type OpName = Op['op'];
export const OP_NAMES: readonly OpName[] = [
  'fork', 'clone3', 'unshare', 'dropcaps', 'exit', 'wait', 'kill', 'openns', 'pidfd', 'setns', 'close',
  'lastpid_read', 'lastpid_write', 'getpid', 'getppid', 'nspid', 'reboot', 'state', 'sleep',
  'pidmax_read', 'pidmax_write', 'sigaction', 'sigmask', 'caught', 'idmap', 'setgroups', 'pidfd_kill',
  'waitid', 'memfd', 'samefile',
];

/** waitid options of the `waitid` op (WEXITED, WSTOPPED, WCONTINUED, WNOWAIT; WNOHANG always). */
export const WAITID_OPTIONS = ['exited', 'stopped', 'continued', 'nowait'] as const;
export type WaitidOption = (typeof WAITID_OPTIONS)[number];

export const SIG_HANDLERS = ['dfl', 'ign', 'catch'] as const;
export type SigHandler = (typeof SIG_HANDLERS)[number];
export const SA_FLAGS = ['restart', 'nocldstop', 'nocldwait'] as const;
export type SaFlag = (typeof SA_FLAGS)[number];
export const SIG_HOWS = ['block', 'unblock', 'setmask'] as const;
export type SigHow = (typeof SIG_HOWS)[number];
/** Signals a script may give a disposition or block: 1..31 but SIGALRM (the driver's wait timer). */
export const scriptableSignal = (n: number): boolean => n >= 1 && n <= 31 && n !== 14;

export const h = (handle: Handle): Target => ({ handle });
export const raw = (pid: number): Target => ({ raw: pid });

export function normTarget(t: TargetSpec): Target {
  if (typeof t === 'number') return t >= 0 ? { handle: t } : { raw: t };
  return t;
}

export function signalNumber(sig: Sig): number {
  if (typeof sig === 'number') {
    if (!Number.isInteger(sig) || sig < 0 || sig > 64) throw new Error(`bad signal ${sig}`);
    return sig;
  }
  if (/^\d+$/.test(sig)) return signalNumber(Number(sig));
  const n = SIGNALS[sig.startsWith('SIG') ? sig.slice(3) : sig];
  if (n === undefined) throw new Error(`bad signal '${sig}'`);
  return n;
}

// ----------------------------------------------------------------- results

export type WaitStatus =
  | { exited: number }
  | { signaled: number; core: boolean }
  | { stopped: number }
  | { continued: true };

export type TaskStateName = 'alive' | 'zombie' | 'stopped' | 'reaped' | 'dead';

export interface TaskState {
  h: Handle;
  state: TaskStateName;
  /** Handle of the parent (as the kernel's PPid says), null if outside the tree or unknown. */
  ppid: Handle | null;
  /** pids from L0 (the fresh root namespace) down to the task's own namespace. */
  nspid: number[];
}

/**
 * One result line of the driver.  Always present: i, op, ret, errno.
 * Which optional fields appear depends on op (see native/pidns_driver.c).
 */
export interface OpResult {
  /** 0-based index of the op in the script (op lines only). */
  i: number;
  /** Missing only for an unparseable op name. */
  op?: OpName;
  /** Acting task handle (absent for state/sleep/close/parse errors). */
  t?: Handle;
  /** Syscall return value; null when the syscall did not return or was not issued. */
  ret: number | null;
  /** errno name ('EPERM', ...) or null. */
  errno: string | null;
  /** Driver-level problem (dead/unknown handle, unresponsive task, parse error). */
  error?: string;
  /** Script line number, for parse errors. */
  line?: number;
  // fork / clone3
  c?: Handle;
  nspid?: number[];
  level?: number;
  // targets
  pid?: number;
  target?: number;
  visible?: boolean;
  // wait
  who?: Handle | null;
  reaped?: Handle | null;
  status?: WaitStatus | null;
  /** waitid: si_signo, si_code, si_status (si_pid is `who`). */
  si?: { signo: number; code: number; status: number } | null;
  timeout?: boolean;
  // kill / exit / reboot
  sig?: number;
  killed_self?: boolean;
  died?: Handle[];
  hung?: Handle[];
  code?: number;
  cmd?: RebootCmd;
  returned?: boolean;
  // openns / pidfd / setns / unshare
  f?: number;
  /** samefile: the second fd handle, and whether both name one inode (st_dev and st_ino equal). */
  g?: number;
  same?: boolean | null;
  kind?: NsKind;
  flags?: string;
  /** unshare with newuser: errno name (or null) of each self-map write. */
  maps?: { setgroups: string | null; uid_map: string | null; gid_map: string | null };
  // lastpid_write
  value?: number;
  // caught: the signals whose handler ran since the last `caught`, ascending
  caught?: number[];
  // getpid / getppid
  view?: number[] | null;
  parent?: Handle | null;
  // sleep / state
  ms?: number;
  tasks?: TaskState[];
}

export interface DriverOutput {
  results: OpResult[];
  /** The driver printed its final {"done":true}. */
  done: boolean;
  /** Lines that were not op results: driver-level errors ({"error":...}), selftest summary, etc. */
  other: Record<string, unknown>[];
  /** Lines that were not valid JSON (e.g. truncated by a kill). */
  malformed: string[];
}

// -------------------------------------------------------------- formatting

function checkInt(what: string, v: number, lo: number, hi: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`${what}: ${v} not an integer in ${lo}..${hi}`);
  return v;
}
const handleTok = (v: number, what = 'handle'): string => String(checkInt(what, v, 0, MAX_HANDLE));
const fdTok = (v: number): string => String(checkInt('fd handle', v, 0, MAX_FD_HANDLE));

function targetTok(t: TargetSpec): string {
  const n = normTarget(t);
  if ('handle' in n) return handleTok(n.handle, 'target handle');
  checkInt('raw pid', n.raw, -0x7fffffff, 0x7fffffff);
  return n.raw === -1 ? '-1' : `#${n.raw}`;
}

function flagsTok(flags: readonly NsFlag[]): string {
  for (const f of flags) if (!NS_FLAGS.includes(f)) throw new Error(`bad ns flag '${String(f)}'`);
  return flags.length === 0 ? '0' : flags.join('|');
}

/** One op as a script line (no newline). Throws on invalid ops. */
export function formatOp(o: Op): string {
  switch (o.op) {
    case 'fork':
      return `fork ${handleTok(o.t)} ${handleTok(o.c)}${o.newpid ? ' newpid' : ''}`;
    case 'clone3': {
      const tids = o.setTid.length === 0 ? '-' : o.setTid.map((x) => String(checkInt('set_tid', x, -0x7fffffff, 0x7fffffff))).join(',');
      if (o.setTid.length > 40) throw new Error('clone3: too many set_tid entries');
      return `clone3 ${handleTok(o.t)} ${handleTok(o.c)} ${tids}${o.newpid ? ' newpid' : ''}${o.pidfd !== undefined ? ` pidfd ${fdTok(o.pidfd)}` : ''}`;
    }
    case 'unshare':
      return `unshare ${handleTok(o.t)} ${flagsTok(o.flags)}`;
    case 'dropcaps':
    case 'lastpid_read':
    case 'pidmax_read':
    case 'caught':
    case 'getpid':
    case 'getppid':
      return `${o.op} ${handleTok(o.t)}`;
    case 'sigaction': {
      const n = signalNumber(o.sig);
      if (!scriptableSignal(n)) throw new Error(`sigaction: signal ${n} (1..31, not ALRM)`);
      if (!SIG_HANDLERS.includes(o.handler)) throw new Error(`bad handler '${String(o.handler)}'`);
      for (const f of o.flags ?? []) if (!SA_FLAGS.includes(f)) throw new Error(`bad sa flag '${String(f)}'`);
      return [`sigaction ${handleTok(o.t)} ${n} ${o.handler}`, ...(o.flags ?? [])].join(' ');
    }
    case 'idmap':
      return `idmap ${handleTok(o.t)} ${o.which} ${checkInt('first', o.first, 0, 0xffffffff)} ${checkInt('lower', o.lower, 0, 0xffffffff)} ${checkInt('count', o.count, 0, 0xffffffff)}`;
    case 'setgroups':
      return `setgroups ${handleTok(o.t)} ${o.allow ? 'allow' : 'deny'}`;
    case 'waitid':
      for (const w of o.options) if (!WAITID_OPTIONS.includes(w)) throw new Error(`bad waitid option '${String(w)}'`);
      return [`waitid ${handleTok(o.t)} ${fdTok(o.f)}`, ...o.options].join(' ');
    case 'pidfd_kill':
      return `pidfd_kill ${handleTok(o.t)} ${fdTok(o.f)} ${signalNumber(o.sig)}${o.scope ? ` ${o.scope}` : ''}`;
    case 'sigmask': {
      if (!SIG_HOWS.includes(o.how)) throw new Error(`bad how '${String(o.how)}'`);
      const ns = o.sigs.map(signalNumber);
      for (const n of ns) if (!scriptableSignal(n)) throw new Error(`sigmask: signal ${n} (1..31, not ALRM)`);
      return `sigmask ${handleTok(o.t)} ${o.how} ${ns.length ? ns.join(',') : '-'}`;
    }
    case 'exit':
      return `exit ${handleTok(o.t)} ${checkInt('exit code', o.code, -0x7fffffff, 0x7fffffff)}`;
    case 'wait': {
      const opts = o.options ?? [];
      for (const w of opts) if (!WAIT_OPTIONS.includes(w)) throw new Error(`bad wait option '${String(w)}'`);
      return [`wait ${handleTok(o.t)} ${targetTok(o.target)}`, ...opts].join(' ');
    }
    case 'kill':
      return `kill ${handleTok(o.t)} ${targetTok(o.target)} ${signalNumber(o.sig)}`;
    case 'openns':
      if (!NS_KINDS.includes(o.kind)) throw new Error(`bad ns kind '${String(o.kind)}'`);
      return `openns ${handleTok(o.t)} ${targetTok(o.target)} ${o.kind} ${fdTok(o.f)}`;
    case 'pidfd':
      return `pidfd ${handleTok(o.t)} ${targetTok(o.target)} ${fdTok(o.f)}`;
    case 'setns':
      return `setns ${handleTok(o.t)} ${fdTok(o.f)} ${flagsTok(o.flags)}`;
    case 'close':
      return `close ${fdTok(o.f)}`;
    case 'memfd':
      return `memfd ${handleTok(o.t)} ${fdTok(o.f)}`;
    case 'samefile':
      return `samefile ${fdTok(o.f)} ${fdTok(o.g)}`;
    case 'lastpid_write':
    case 'pidmax_write':
      return `${o.op} ${handleTok(o.t)} ${checkInt('value', o.value, -0x7fffffff, 0x7fffffff)}`;
    case 'nspid':
      return `nspid ${handleTok(o.t)} ${targetTok(o.target)}`;
    case 'reboot':
      if (!REBOOT_CMDS.includes(o.cmd)) throw new Error(`bad reboot cmd '${String(o.cmd)}'`);
      return `reboot ${handleTok(o.t)} ${o.cmd}`;
    case 'state':
      return 'state';
    case 'sleep':
      return `sleep ${checkInt('sleep ms', o.ms, 0, 5000)}`;
  }
}

/** The script text for ops (one line each, trailing newline). */
export function formatScript(ops: readonly Op[]): string {
  return ops.map((o) => `${formatOp(o)}\n`).join('');
}

// ----------------------------------------------------------------- parsing

function tokenize(line: string): string[] {
  const out: string[] = [];
  for (const tok of line.split(/[ \t\r]+/)) {
    if (tok === '') continue;
    if (tok.startsWith('#') && (out.length === 0 || !/^#[-0-9]/.test(tok))) break;
    out.push(tok);
  }
  return out;
}

function parseIntTok(s: string | undefined, what: string, lo: number, hi: number): number {
  if (s === undefined || !/^[-+]?\d+$/.test(s)) throw new Error(`${what}: expected a number, got '${s ?? ''}'`);
  return checkInt(what, Number(s), lo, hi);
}

function parseTargetTok(s: string | undefined): Target {
  if (s === undefined) throw new Error('missing target');
  if (s.startsWith('#')) return { raw: parseIntTok(s.slice(1), 'raw pid', -0x7fffffff, 0x7fffffff) };
  if (s === '-1') return { raw: -1 };
  return { handle: parseIntTok(s, 'target handle', 0, MAX_HANDLE) };
}

function parseFlagsTok(s: string | undefined): NsFlag[] {
  if (s === undefined) throw new Error('missing ns flags');
  if (s === '0') return [];
  return s.split('|').map((f) => {
    if (!(NS_FLAGS as readonly string[]).includes(f)) throw new Error(`bad ns flag '${f}'`);
    return f as NsFlag;
  });
}

/** Parse one script line; undefined for blank/comment lines. Throws on errors. */
export function parseOpLine(line: string): Op | undefined {
  const tk = tokenize(line);
  if (tk.length === 0) return undefined;
  const [name, a1, a2, a3, a4] = tk;
  const need = (n: number): void => {
    if (tk.length < n) throw new Error(`${name ?? ''}: expected at least ${n - 1} args`);
  };
  const H = (s: string | undefined): number => parseIntTok(s, 'handle', 0, MAX_HANDLE);
  const F = (s: string | undefined): number => parseIntTok(s, 'fd handle', 0, MAX_FD_HANDLE);
  switch (name) {
    case 'fork':
      need(3);
      if (tk.length > 4 || (tk.length === 4 && a3 !== 'newpid')) throw new Error(`fork: trailing '${a3 ?? ''}'`);
      return { op: 'fork', t: H(a1), c: H(a2), ...(a3 === 'newpid' ? { newpid: true } : {}) };
    case 'clone3': {
      need(4);
      const setTid = a3 === '-' ? [] : (a3 ?? '').split(',').map((x) => parseIntTok(x, 'set_tid', -0x7fffffff, 0x7fffffff));
      let newpid = false;
      let pidfd: number | undefined;
      for (let j = 4; j < tk.length; j++) {
        if (tk[j] === 'newpid' && !newpid) newpid = true;
        else if (tk[j] === 'pidfd' && j + 1 < tk.length && pidfd === undefined) pidfd = F(tk[++j]);
        else throw new Error(`clone3: trailing '${tk[j] ?? ''}'`);
      }
      return { op: 'clone3', t: H(a1), c: H(a2), setTid, ...(newpid ? { newpid: true } : {}), ...(pidfd !== undefined ? { pidfd } : {}) };
    }
    case 'unshare':
      need(3);
      return { op: 'unshare', t: H(a1), flags: parseFlagsTok(a2) };
    case 'dropcaps':
    case 'lastpid_read':
    case 'pidmax_read':
    case 'caught':
    case 'getpid':
    case 'getppid':
      need(2);
      return { op: name, t: H(a1) };
    case 'exit':
      need(3);
      return { op: 'exit', t: H(a1), code: parseIntTok(a2, 'exit code', -0x7fffffff, 0x7fffffff) };
    case 'wait': {
      need(3);
      const options = tk.slice(3).map((w) => {
        if (!(WAIT_OPTIONS as readonly string[]).includes(w)) throw new Error(`wait: unknown option '${w}'`);
        return w as WaitOption;
      });
      return { op: 'wait', t: H(a1), target: parseTargetTok(a2), ...(options.length ? { options } : {}) };
    }
    case 'kill':
      need(4);
      return { op: 'kill', t: H(a1), target: parseTargetTok(a2), sig: signalNumber(a3 ?? '') };
    case 'openns':
      need(5);
      if (!(NS_KINDS as readonly string[]).includes(a3 ?? '')) throw new Error(`openns: bad kind '${a3 ?? ''}'`);
      return { op: 'openns', t: H(a1), target: parseTargetTok(a2), kind: a3 as NsKind, f: F(a4) };
    case 'pidfd':
      need(4);
      return { op: 'pidfd', t: H(a1), target: parseTargetTok(a2), f: F(a3) };
    case 'setns':
      need(4);
      return { op: 'setns', t: H(a1), f: F(a2), flags: parseFlagsTok(a3) };
    case 'close':
      need(2);
      return { op: 'close', f: F(a1) };
    case 'memfd':
      need(3);
      return { op: 'memfd', t: H(a1), f: F(a2) };
    case 'samefile':
      need(3);
      return { op: 'samefile', f: F(a1), g: F(a2) };
    case 'lastpid_write':
    case 'pidmax_write':
      need(3);
      return { op: name, t: H(a1), value: parseIntTok(a2, 'value', -0x7fffffff, 0x7fffffff) };
    case 'nspid':
      need(3);
      return { op: 'nspid', t: H(a1), target: parseTargetTok(a2) };
    case 'sigaction': {
      need(4);
      const sig = signalNumber(a2 ?? '');
      if (!scriptableSignal(sig)) throw new Error(`sigaction: bad signal '${a2 ?? ''}' (1..31, not ALRM)`);
      if (!(SIG_HANDLERS as readonly string[]).includes(a3 ?? '')) throw new Error(`sigaction: bad handler '${a3 ?? ''}'`);
      const flags = tk.slice(4).map((w) => {
        if (!(SA_FLAGS as readonly string[]).includes(w)) throw new Error(`sigaction: unknown flag '${w}'`);
        return w as SaFlag;
      });
      return { op: 'sigaction', t: H(a1), sig, handler: a3 as SigHandler, ...(flags.length ? { flags } : {}) };
    }
    case 'idmap': {
      need(6);
      if (a2 !== 'uid' && a2 !== 'gid') throw new Error(`idmap: uid or gid, not '${a2 ?? ''}'`);
      const n = (x: string | undefined, what: string): number => parseIntTok(x, what, 0, 0xffffffff);
      return { op: 'idmap', t: H(a1), which: a2, first: n(a3, 'first'), lower: n(a4, 'lower'), count: n(tk[5], 'count') };
    }
    case 'waitid': {
      need(3);
      const options = tk.slice(3).map((w) => {
        if (!(WAITID_OPTIONS as readonly string[]).includes(w)) throw new Error(`waitid: unknown option '${w}'`);
        return w as WaitidOption;
      });
      return { op: 'waitid', t: H(a1), f: F(a2), options };
    }
    case 'pidfd_kill': {
      need(4);
      if (tk.length > 5 || (tk.length === 5 && a4 !== 'thread' && a4 !== 'pgroup')) throw new Error(`pidfd_kill: trailing '${a4 ?? ''}'`);
      return { op: 'pidfd_kill', t: H(a1), f: F(a2), sig: signalNumber(a3 ?? ''), ...(a4 === 'thread' || a4 === 'pgroup' ? { scope: a4 } : {}) };
    }
    case 'setgroups':
      need(3);
      if (a2 !== 'allow' && a2 !== 'deny') throw new Error(`setgroups: allow or deny, not '${a2 ?? ''}'`);
      return { op: 'setgroups', t: H(a1), allow: a2 === 'allow' };
    case 'sigmask': {
      need(4);
      if (!(SIG_HOWS as readonly string[]).includes(a2 ?? '')) throw new Error(`sigmask: bad how '${a2 ?? ''}'`);
      const sigs = a3 === '-' ? [] : (a3 ?? '').split(',').map((x) => {
        const n = signalNumber(x);
        if (!scriptableSignal(n)) throw new Error(`sigmask: bad signal '${x}' (1..31, not ALRM)`);
        return n;
      });
      return { op: 'sigmask', t: H(a1), how: a2 as SigHow, sigs };
    }
    case 'reboot':
      need(3);
      if (!(REBOOT_CMDS as readonly string[]).includes(a2 ?? '')) throw new Error(`reboot: bad cmd '${a2 ?? ''}'`);
      return { op: 'reboot', t: H(a1), cmd: a2 as RebootCmd };
    case 'state':
      return { op: 'state' };
    case 'sleep':
      need(2);
      return { op: 'sleep', ms: parseIntTok(a1, 'sleep ms', 0, 5000) };
    default:
      throw new Error(`unknown op '${name ?? ''}'`);
  }
}

/** Parse a whole script.  Throws with the line number on the first bad line. */
export function parseScript(text: string): Op[] {
  const ops: Op[] = [];
  text.split('\n').forEach((line, idx) => {
    try {
      const o = parseOpLine(line);
      if (o !== undefined) ops.push(o);
    } catch (e) {
      throw new Error(`script line ${idx + 1}: ${(e as Error).message}`);
    }
  });
  return ops;
}

/** Split driver NDJSON output into op results and everything else. */
export function parseDriverOutput(ndjson: string): DriverOutput {
  const out: DriverOutput = { results: [], done: false, other: [], malformed: [] };
  for (const line of ndjson.split('\n')) {
    const s = line.trim();
    if (s === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch {
      out.malformed.push(s);
      continue;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      out.malformed.push(s);
      continue;
    }
    const rec = v as Record<string, unknown>;
    if (rec['done'] === true) out.done = true;
    else if (typeof rec['i'] === 'number') out.results.push(rec as unknown as OpResult);
    else out.other.push(rec);
  }
  return out;
}

/** The op results of driver NDJSON output, in order (other lines are dropped). */
export function parseResults(ndjson: string): OpResult[] {
  return parseDriverOutput(ndjson).results;
}
