/**
 * The one shared-memory layout of pidrace.
 *
 * Every shared structure is declared here once, as a list of int32 fields. Field offsets are
 * derived from this schema and nothing else in the code base hard-codes an index: kernel code
 * reads `mem[p + TASK.state]` where `p` is the word address of a task record, exactly as kernel
 * C reads `p->state`. A "pointer" is a word index into the one Int32Array; 0 is NULL (word 0 of
 * the buffer is reserved and never handed out).
 *
 * SharedArrayBuffer.md is generated from this schema (`renderLayoutDoc`) and a test checks that
 * the committed document equals the rendered one.
 */
import { all_of, CURRENT, init_only, lock, locked, MARKED, RCU_READ, rcu, written_under, type Guard } from './guard.js';

/** One int32 field (or an inline array of `words` int32s). */
export interface FieldSpec {
  readonly name: string;
  readonly words?: number;
  /**
   * Which lock (or ordering rule) guards the field: a structured Guard (src/mm/guard.ts) the
   * checked build tests on every access, or text for rules it cannot decide (see guard_of).
   */
  readonly guard: Guard | string;
  readonly doc: string;
  /** Start the field at a multiple of this many words (16 = a 64-byte cache line). */
  readonly align?: number;
  /** The field embeds a record (or `count` records) of the spec with this name. */
  readonly of?: string;
  readonly count?: number;
}

export interface StructSpec {
  readonly name: string;
  /** The kernel structure this record models. */
  readonly kernel: string;
  readonly doc: string;
  readonly fields: readonly FieldSpec[];
}

/** A struct's derived offsets plus its fixed stride in words. */
export type Offsets<F extends readonly FieldSpec[]> = { readonly [K in F[number]['name']]: number } & {
  readonly SIZE: number;
};

/** Where each field of a record starts, and the record's stride: the one computation of offsets. */
export interface RecordLayout {
  readonly fields: readonly { readonly field: FieldSpec; readonly offset: number; readonly words: number }[];
  readonly size: number;
}

export function layoutOf(fields: readonly FieldSpec[]): RecordLayout {
  const out: { field: FieldSpec; offset: number; words: number }[] = [];
  let off = 0;
  for (const f of fields) {
    if (f.align) off = Math.ceil(off / f.align) * f.align;
    const words = f.words ?? 1;
    out.push({ field: f, offset: off, words });
    off += words;
  }
  // A record with a cache-line-aligned field is padded to whole cache lines (16 words).
  return { fields: out, size: fields.some((f) => f.align) ? Math.ceil(off / 16) * 16 : off };
}

function offsetsOf<const F extends readonly FieldSpec[]>(fields: F): Offsets<F> {
  const entries: Array<[string, number]> = [];
  const seen = new Set<string>();
  const l = layoutOf(fields);
  for (const { field, offset } of l.fields) {
    if (seen.has(field.name)) throw new Error(`duplicate field ${field.name}`);
    seen.add(field.name);
    entries.push([field.name, offset]);
  }
  entries.push(['SIZE', l.size]);
  // The offsets are compile-time constants in the kernel (offsetof). Object.fromEntries builds an
  // object with fast properties, which frozen has a stable map with constant fields: optimised
  // code folds `TASK.state` to its number. (An object grown by `o[name] = offset` in a loop ends
  // in V8's dictionary mode, where every `TASK.state` is a hash lookup, and making it a
  // prototype does not bring it back on Node 20: measured with %HasFastProperties, and ~14% of a
  // fork cycle; see test/offsets_fast.test.ts.)
  return Object.freeze(Object.fromEntries(entries)) as Offsets<F>;
}

// ---------------------------------------------------------------------------------------------
// Lock words. Each lock is an inline group of fields inside the structure that owns it, so a
// lock's address is a word address like any other field.
// ---------------------------------------------------------------------------------------------

/** spinlock_t: `val` is 0 unlocked, 1 locked, 2 locked with sleepers parked on the word. */
export const SPIN_UNLOCKED = 0;
export const SPIN_LOCKED = 1;
export const SPIN_CONTENDED = 2;

const L = <const N extends string>(name: N, guard: Guard | string, doc: string): FieldSpec & { readonly name: N } => ({ name, guard, doc });
const A = <const N extends string>(name: N, words: number, guard: Guard | string, doc: string): FieldSpec & { readonly name: N } => ({ name, words, guard, doc });
/** A field that embeds a record of another spec (its width is that record's size). */
function E<const N extends string>(name: N, spec: StructSpec, guard: Guard | string, doc: string): FieldSpec & { readonly name: N } {
  return { name, words: offsetsOf(spec.fields).SIZE, of: spec.name, guard, doc };
}
/** An inline array of `n` records of another spec. */
function AE<const N extends string>(name: N, n: number, spec: StructSpec, guard: Guard | string, doc: string): FieldSpec & { readonly name: N } {
  return { name, words: n * offsetsOf(spec.fields).SIZE, of: spec.name, count: n, guard, doc };
}

export const SPINLOCK_SPEC = {
  name: 'spinlock_t',
  kernel: 'spinlock_t (include/linux/spinlock_types.h)',
  doc: 'Embedded in the structure that owns the lock.',
  fields: [
    L('val', 'Atomics', 'SPIN_UNLOCKED (0), SPIN_LOCKED (1), SPIN_CONTENDED (2: locked with sleepers parked on the word)'),
    L('owner', 'the lock holder', 'cpu+1 of the holder (for reports)'),
    L('class', 'write-once (spin_lock_init)', 'lockdep class id'),
  ],
} as const satisfies StructSpec;
export const SPINLOCK = offsetsOf(SPINLOCK_SPEC.fields);
/** Words of a spinlock_t: val, owner (cpu+1), class (lockdep class id). */
export const SPINLOCK_WORDS = SPINLOCK.SIZE;
export const SL_VAL = SPINLOCK.val;
export const SL_OWNER = SPINLOCK.owner;
export const SL_CLASS = SPINLOCK.class;

/**
 * rwlock_t as the kernel's queued rwlock (include/asm-generic/qrwlock_types.h):
 * `cnts` holds the reader count in bits 9.. (_QR_BIAS = 1 << 9), _QW_WAITING (0x100) and the
 * writer byte _QW_LOCKED (0xff). `wait_next`/`wait_owner` form the ticket lock that stands in for
 * the arch spinlock `wait_lock` (FIFO, so waiters are served in arrival order as with qspinlock).
 */
export const QW_LOCKED = 0x0ff;
export const QW_WAITING = 0x100;
export const QW_WMASK = 0x1ff;
export const QR_SHIFT = 9;
export const QR_BIAS = 1 << QR_SHIFT;
export const RWLOCK_SPEC = {
  name: 'rwlock_t',
  kernel: 'rwlock_t as struct qrwlock (include/asm-generic/qrwlock_types.h)',
  doc: 'The queued rwlock: `cnts` = readers x _QR_BIAS + _QW_WAITING + writer byte _QW_LOCKED; `wait_next`/`wait_owner` form the FIFO ticket lock standing in for the arch spinlock `wait_lock`.',
  fields: [
    L('cnts', 'Atomics', 'reader count (bits QR_SHIFT..), _QW_WAITING, _QW_LOCKED'),
    L('wait_next', 'Atomics.add', 'wait_lock ticket: next ticket handed out'),
    L('wait_owner', 'Atomics.add', 'wait_lock ticket: ticket now served'),
    L('writer', 'the write holder', 'cpu+1 of the writer that holds the lock, 0 otherwise (for reports; readers are in held-lock stacks)'),
    L('class', 'write-once (rwlock_init)', 'lockdep class id'),
    L('sleepers', 'Atomics', 'CPUs parked (Atomics.wait) on cnts or wait_owner: unlockers notify only when non-zero'),
  ],
} as const satisfies StructSpec;
export const RWLOCK = offsetsOf(RWLOCK_SPEC.fields);
export const RWLOCK_WORDS = RWLOCK.SIZE;
export const RW_CNTS = RWLOCK.cnts;
export const RW_WAIT_NEXT = RWLOCK.wait_next;
export const RW_WAIT_OWNER = RWLOCK.wait_owner;
/** cpu+1 of the writer that holds the lock, 0 otherwise (for reports; readers are in held-lock stacks). */
export const RW_WRITER = RWLOCK.writer;
export const RW_CLASS = RWLOCK.class;
/** CPUs parked (Atomics.wait) on cnts or wait_owner: unlockers notify only when non-zero. */
export const RW_SLEEPERS = RWLOCK.sleepers;

/** struct mutex: owner is a task pointer (0 free); waiters sleep on the embedded wait queue. */
export const MUTEX_SPEC = {
  name: 'mutex',
  kernel: 'struct mutex (include/linux/mutex_types.h)',
  doc: 'A sleeping lock: waiters are tasks on a FIFO list linked through `task.wq_next`; unlock hands the lock to the first waiter.',
  fields: [
    L('owner', 'Atomics (CAS)', 'task that holds it, 0 when free'),
    L('class', 'write-once (mutex_init)', 'lockdep class id'),
    L('nwait', 'wait_lock', 'number of waiters (a hint for the unlock fast path)'),
    E('wait_lock', SPINLOCK_SPEC, 'itself', 'spinlock_t wait_lock'),
    L('wq_first', 'wait_lock', 'first waiter (the list is linked through task.wq_next)'),
  ],
} as const satisfies StructSpec;
export const MUTEX = offsetsOf(MUTEX_SPEC.fields);
export const MUTEX_WORDS = MUTEX.SIZE;
export const MX_OWNER = MUTEX.owner;
export const MX_CLASS = MUTEX.class;
/** Number of waiters (a hint for the unlock fast path). */
export const MX_NWAIT = MUTEX.nwait;
/** Embedded wait_lock spinlock then the waiter list head. */
export const MX_WAIT_LOCK = MUTEX.wait_lock;
export const MX_WQ_FIRST = MUTEX.wq_first;

/** wait_queue_head_t: a spinlock then first/last task of the FIFO list (linked by TASK.wq_next). */
export const WAITQ_SPEC = {
  name: 'wait_queue_head_t',
  kernel: 'struct wait_queue_head (include/linux/wait.h)',
  doc: 'A spinlock and a FIFO list of sleeping tasks linked through `task.wq_next`.',
  fields: [
    E('lock', SPINLOCK_SPEC, 'itself', 'spinlock_t lock'),
    L('first', 'lock', 'first waiter'),
    L('last', 'lock', 'last waiter'),
  ],
} as const satisfies StructSpec;
export const WAITQ = offsetsOf(WAITQ_SPEC.fields);
export const WAITQ_WORDS = WAITQ.SIZE;
export const WQ_LOCK = WAITQ.lock;
export const WQ_FIRST = WAITQ.first;
export const WQ_LAST = WAITQ.last;

/**
 * struct rcu_head, embedded in every RCU-freed object: next (address of the next rcu_head on the
 * CPU's callback queue), gp (grace period that must complete first), func (RCB_* callback id),
 * obj (address of the enclosing object).
 */
export const RCU_HEAD_SPEC = {
  name: 'rcu_head',
  kernel: 'struct rcu_head (include/linux/types.h)',
  doc: 'Embedded in every RCU-freed object and queued on the CPU that called call_rcu.',
  fields: [
    L('next', 'own CPU', 'address of the next rcu_head on the CPU\'s callback queue'),
    L('gp', 'own CPU', 'grace period that must complete before the callback runs'),
    L('func', 'own CPU', 'RCB_* callback id'),
    L('obj', 'own CPU', 'address of the enclosing object'),
  ],
} as const satisfies StructSpec;
export const RCU_HEAD = offsetsOf(RCU_HEAD_SPEC.fields);
export const RCU_HEAD_WORDS = RCU_HEAD.SIZE;
export const RH_NEXT = RCU_HEAD.next;
export const RH_GP = RCU_HEAD.gp;
export const RH_FUNC = RCU_HEAD.func;
export const RH_OBJ = RCU_HEAD.obj;

/**
 * CONFIG_NR_CPUS: the most CPUs a machine can have (memory.ts refuses more; --cpus is bounded by
 * it; per-CPU arrays in shared structs are this long).
 */
export const NR_CPUS = 64;
/** Entries of a task's sibling-list history ring (TASK.sibling_hist). */
export const SIBLING_HIST = 4;

/**
 * struct percpu_rw_semaphore (include/linux/percpu-rwsem.h) with its struct rcu_sync
 * (include/linux/rcu_sync.h): per-CPU reader counts, the writer's `block`, the rcuwait of the
 * writer waiting for readers, the wait queue of blocked readers and writers, and the rcu_sync state
 * machine that sends readers to the slow path while a writer is around (src/locking/percpu_rwsem.ts).
 */
export const PERCPU_RWSEM_SPEC = {
  name: 'percpu_rw_semaphore',
  kernel: 'struct percpu_rw_semaphore (include/linux/percpu-rwsem.h) + struct rcu_sync (include/linux/rcu_sync.h)',
  doc: 'read_count[cpu] is incremented by a reader on the CPU it runs on (this_cpu_inc) and decremented on the CPU it runs on at up_read: only the sum means anything. Readers take the fast path while rss_gp_state is GP_IDLE.',
  fields: [
    A('read_count', NR_CPUS, 'Atomics (this_cpu_inc / this_cpu_dec; the writer sums them)', 'per-CPU reader count (sem->read_count)'),
    L('block', 'Atomics (xchg by the writer, acquire-read by readers)', 'sem->block: 1 while a writer holds or is taking the semaphore; new readers block'),
    L('writer', 'Atomics (rcuwait)', 'sem->writer: the task in percpu_down_write waiting for readers to drain, 0 if none'),
    L('owner', 'the writer, or the up_write that hands block to a queued writer (under sem->waiters.lock)', 'model bookkeeping: the task that set block (holds the semaphore for write or waits for readers), for reports and the wait-for graph'),
    L('class', 'write-once (percpu_init_rwsem)', 'lockdep class id'),
    E('waiters', WAITQ_SPEC, 'itself', 'sem->waiters: readers and writers blocked by block (percpu_rwsem_wait), FIFO; wq_arg says reader (1) or writer (0)'),
    E('rss_lock', SPINLOCK_SPEC, 'itself', 'rcu_sync->rss_lock'),
    L('rss_gp_state', 'rss_lock (written), READ_ONCE (rcu_sync_is_idle)', 'rcu_sync->gp_state: GP_IDLE, GP_ENTER, GP_PASSED, GP_EXIT, GP_REPLAY'),
    L('rss_gp_count', 'rss_lock', 'rcu_sync->gp_count: rcu_sync_enter calls not yet matched by rcu_sync_exit'),
    E('rss_gp_wait', WAITQ_SPEC, 'itself', 'rcu_sync->gp_wait: rcu_sync_enter callers waiting for GP_PASSED'),
    E('rss_cb_head', RCU_HEAD_SPEC, 'call_rcu', 'rcu_sync->cb_head (rcu_sync_func)'),
  ],
} as const satisfies StructSpec;
export const PERCPU_RWSEM = offsetsOf(PERCPU_RWSEM_SPEC.fields);

/** kmem caches (SLAB_* of memory.ts): the per-CPU object lists of `cpu.slab_cpu` have one entry each. */
export const NR_KMEM_CACHES = 9;

/** A CPU's own free objects of one kmem cache (mm/slab.c's struct array_cache). */
export const KMEM_CACHE_CPU_SPEC = {
  name: 'kmem_cache_cpu',
  kernel: 'struct array_cache (mm/slab.c): the per-CPU head array of a cache',
  doc: 'Entries of `cpu.slab_cpu`, one per kmem cache in SLAB_* order: objects freed on this CPU, handed out again by its next allocations without the list lock (src/mm/slab.ts).',
  fields: [
    L('freelist', 'own CPU', 'first object of the list (threaded through the objects\' free_next, as the cache\'s own list)'),
    L('avail', 'own CPU', 'objects on the list (at most the cache\'s cpu_limit)'),
  ],
} as const satisfies StructSpec;
export const KMEM_CACHE_CPU = offsetsOf(KMEM_CACHE_CPU_SPEC.fields);

/** A CPU's call_rcu queue (rcu_data's segmented callback list, one segment in the model). */
export const RCU_CBLIST_SPEC = {
  name: 'rcu_cblist',
  kernel: 'struct rcu_segcblist (include/linux/rcu_segcblist.h), one segment',
  doc: 'Per-CPU callback queue of embedded rcu_heads, in call_rcu order (grace periods are non-decreasing along it).',
  fields: [
    L('head', 'own CPU', 'first rcu_head (the oldest callback)'),
    L('tail', 'own CPU', 'last rcu_head'),
    L('len', 'own CPU (read racily by kick_cpu)', 'callbacks queued'),
    L('pad', 'none', 'unused'),
  ],
} as const satisfies StructSpec;
export const RCU_CBLIST = offsetsOf(RCU_CBLIST_SPEC.fields);

/** rcu_state in G.rcu (kernel/rcu/tree.h). */
export const RCU_STATE_SPEC = {
  name: 'rcu_state',
  kernel: 'struct rcu_state (kernel/rcu/tree.h)',
  doc: 'The grace-period sequence of the model\'s Tree RCU (one node).',
  fields: [
    L('gp_seq', 'Atomics', 'last completed grace period (also the count of grace periods completed: it starts at 0)'),
    L('gp_started', 'Atomics (CAS)', 'grace period in progress (> gp_seq when one is)'),
    L('gp_requested', 'Atomics (max)', 'newest grace period a caller asked for'),
    L('gp_stamp', 'the grace period\'s starter (Atomics.store)', 'stall clock (stall_clock) when the running grace period started: the RCU CPU stall detector reads it (src/detect/stall.ts)'),
  ],
} as const satisfies StructSpec;
export const RCU_STATE = offsetsOf(RCU_STATE_SPEC.fields);

/** srcu_struct in G.srcu_exit (tasks_rcu_exit_srcu). */
export const SRCU_SPEC = {
  name: 'srcu_struct',
  kernel: 'struct srcu_struct (include/linux/srcutree.h), one srcu_data for all CPUs',
  doc: 'Per-index lock and unlock counts selected by `idx`; a grace period scans the old index, flips `idx`, and scans again (srcu_readers_active_idx_check).',
  fields: [
    L('idx', 'Atomics', '->srcu_idx: flipped by each grace period; readers count on idx & 1'),
    A('lock_count', 2, 'Atomics.add', '->srcu_lock_count[0..1]: srcu_read_lock calls per index (only grow)'),
    L('gp_owner', 'Atomics (CAS)', 'task running the grace period, 0 if none'),
    L('gp_seq', 'Atomics', 'completed SRCU grace periods'),
    L('gp_state', 'gp_owner', 'SRCU_STATE_IDLE / _SCAN1 / _SCAN2 of the running grace period'),
    A('unlock_count', 2, 'Atomics.add', '->srcu_unlock_count[0..1]: srcu_read_unlock calls per index'),
  ],
} as const satisfies StructSpec;
export const SRCU = offsetsOf(SRCU_SPEC.fields);

/** G.stress: the run control words of `pidrace stress` (src/stress). */
export const STRESS_SPEC = {
  name: 'stress',
  kernel: 'pidrace stress run control (no kernel counterpart)',
  doc: 'Written by the main thread before a stress run and by the CPUs running the stress programs.',
  fields: [
    L('ops_left', 'Atomics.sub', 'operations still to start (<= 0: tasks wind down)'),
    L('stop', 'Atomics', '1: stop starting operations (duration over, Ctrl-C)'),
    L('mix', 'write-once per run', 'address of the mix\'s weight table (cumulative weights per operation, src/stress/ops.ts mix_weights)'),
    L('max_depth', 'write-once per run', 'deepest pid namespace level the mix creates'),
    L('prog', 'write-once per run', 'address of the stress program (tasks fork children running it)'),
    L('table', 'write-once per run', 'address of the per-operation result table (program region)'),
    L('depth_seen', 'Atomics (max)', 'deepest level reached'),
    L('ns_seen', 'Atomics.add', 'pid namespaces created'),
    L('max_tasks', 'write-once per run', 'soft bound on live tasks (fork is skipped above it)'),
    L('active_ns', 'write-once per run', 'address of the per-task-slot active-namespace table (invariant)'),
    L('ops_done', 'Atomics.add', 'operations completed'),
    L('busted', 'write-once per run', 'planted torture bugs for the foundation mix (STRESS_BUST_*)'),
    L('seed', 'write-once per run', 'run seed (each task\'s PRNG starts from it and the task id)'),
    L('audit_every', 'write-once per run', 'ops between in-run audits by a CPU (0: none)'),
    L('tasks', 'write-once per run', 'stress processes the reaper keeps alive as its own children'),
    L('exec_prog', 'write-once per run', 'address of the one-instruction program execve(stress program): the child of the execve operation runs it'),
    L('daemon_prog', 'write-once per run', 'address of the daemon program (pause() in a loop, until a signal kills it): the children of the daemon operation and half the setns forks run it'),
    L('waiter_prog', 'write-once per run', 'address of the reaper-thread program: fork a child (which yields four times and exits), wait4(-1, __WALL | __WNOTHREAD), exit; the thread of the wait-threads operation runs it'),
    L('ns_inits_next', 'Atomics.add', 'next entry of ns_inits to write (a ring)'),
    A('ns_inits', 8, 'Atomics', 'numbers in init_pid_ns of the last namespace inits the mix created (setns and zap aim at them)'),
  ],
} as const satisfies StructSpec;
export const STRESS = offsetsOf(STRESS_SPEC.fields);

/** Per-task-slot side table of a stress run (program region, one record per task slot). */
export const STRESS_SLOT_SPEC = {
  name: 'stress_slot',
  kernel: 'pidrace stress per-task bookkeeping (no kernel counterpart)',
  doc: 'Indexed by task slot; written by the task the slot describes (its CPU), read by the invariant checks.',
  fields: [
    L('id', 'the task', 'task id the slot describes (a reused slot has a new id)'),
    L('active_ns', 'the task', 'its active pid namespace (the invariant)'),
    L('cont', 'the task', 'pending continuation of a compound op (op id + 1), 0 none'),
    L('cont_step', 'the task', 'step of the continuation'),
    L('cont_arg', 'the task', 'its operand (an fd ...)'),
    L('newpid_child', 'the task', 'pid (in the caller\'s ns) of the last namespace init it created'),
    { ...A('scratch', 16, 'the task', 'user memory: pid sets, clone_args + set_tid, strings'), align: 16 },
  ],
} as const satisfies StructSpec;
export const STRESS_SLOT = offsetsOf(STRESS_SLOT_SPEC.fields);

/** Counters of the stress lock sections (program region, after the result table). */
export const STRESS_COUNTERS_SPEC = {
  name: 'stress_counters',
  kernel: 'locktorture-style counters of the stress lock sections (no kernel counterpart)',
  doc: 'Plain counters guarded by the lock under test, plus Atomics counts that catch two CPUs inside at once.',
  fields: [
    L('spin_counter', 'test spinlock (plain read-modify-write)', 'incremented inside every spinlock section'),
    L('spin_acq', 'Atomics.add', 'spinlock sections entered'),
    L('spin_inside', 'Atomics', 'CPUs inside the spinlock section now'),
    L('mutex_counter', 'test mutex (plain read-modify-write)', 'incremented inside every mutex section'),
    L('mutex_acq', 'Atomics.add', 'mutex sections entered'),
    L('mutex_inside', 'Atomics', 'tasks inside the mutex section now'),
  ],
} as const satisfies StructSpec;
export const STRESS_COUNTERS = offsetsOf(STRESS_COUNTERS_SPEC.fields);

/** One entry of a CPU's held-lock stack (lockdep's struct held_lock). */
export const HELD_LOCK_SPEC = {
  name: 'held_lock',
  kernel: 'struct held_lock (include/linux/lockdep_types.h)',
  doc: 'Entries of `cpu.held`, innermost last; `cpu.held_depth` counts them.',
  fields: [
    L('lock', 'own CPU', 'address of the lock'),
    L('mode_class', 'own CPU', 'HELD_* mode | lockdep class << 8'),
    L('site', 'own CPU', 'acquire site id'),
  ],
} as const satisfies StructSpec;
export const HELD_LOCK = offsetsOf(HELD_LOCK_SPEC.fields);

/** A user-program instruction, and a task's pending system call (task.ucall) of the same shape. */
export const INSN_SPEC = {
  name: 'insn',
  kernel: 'a system call instruction (syscall number and its arguments in registers)',
  doc: 'User programs are arrays of these in the program region; `task.ucall` holds the call being executed (re-run on resume until it completes).',
  fields: [
    L('op', 'current', 'SYS_* or OP_* (OP_NONE: no call pending)'),
    L('a', 'current', 'first argument (OP_JMP/OP_LOOP: target)'),
    L('b', 'current', 'second argument (OP_LOOP: count)'),
    L('c', 'current', 'third argument'),
  ],
} as const satisfies StructSpec;
export const INSN = offsetsOf(INSN_SPEC.fields);
/** The pending call in task.ucall (same fields as an instruction). */
export const UCALL = INSN;

/** One record of the violation log region (src/locking/violations.ts). */
export const VIOLATION_SPEC = {
  name: 'violation',
  kernel: 'a kernel splat (WARN/BUG/lockdep report) recorded in shared memory',
  doc: 'Written by the CPU that found it; `kind` is stored last, so a reader skips a record whose kind is still 0.',
  fields: [
    L('kind', 'Atomics.store (published last)', 'V_* kind'),
    L('a', 'writer, before kind', 'first operand (see the V_* constant)'),
    L('b', 'writer, before kind', 'second operand'),
    L('c', 'writer, before kind', 'third operand'),
    L('cpu', 'writer, before kind', 'CPU that recorded it'),
    L('task', 'writer, before kind', 'task that CPU was running, 0 if none'),
  ],
} as const satisfies StructSpec;
export const VIOLATION = offsetsOf(VIOLATION_SPEC.fields);

/** struct upid: the numbers[] that follow a struct pid inline (level+1 of them). */
export const UPID_SPEC = {
  name: 'upid',
  kernel: 'struct upid (include/linux/pid.h)',
  doc: 'A struct pid is followed by numbers[level+1] of these; `hash_next` chains the global pid hash.',
  fields: [
    L('nr', 'write-once', 'the pid number in that namespace'),
    L('ns', 'write-once', 'the pid namespace'),
    L('hash_next', 'pidmap_lock', 'next upid in the same pid-hash chain (address, 0 for end)'),
  ],
} as const satisfies StructSpec;
export const UPID = offsetsOf(UPID_SPEC.fields);
export const UPID_WORDS = UPID.SIZE;
export const UPID_NR = UPID.nr;
export const UPID_NS = UPID.ns;
/** Next upid in the same pid-hash chain (address of the next upid, 0 for end). */
export const UPID_HASH_NEXT = UPID.hash_next;

/** struct clone_args (include/uapi/linux/sched.h) in user memory: one int32 word per __aligned_u64. */
export const CLONE_ARGS_SPEC = {
  name: 'clone_args',
  kernel: 'struct clone_args (include/uapi/linux/sched.h)',
  doc: 'User memory read by clone3; sizes passed to clone3 are the kernel\'s byte sizes (8 per field).',
  fields: [
    L('flags', 'caller', 'clone flags'),
    L('pidfd', 'caller', 'where to store the pidfd'),
    L('child_tid', 'caller', 'child tid pointer'),
    L('parent_tid', 'caller', 'parent tid pointer'),
    L('exit_signal', 'caller', 'signal to the parent at exit'),
    L('stack', 'caller', 'stack base'),
    L('stack_size', 'caller', 'stack size'),
    L('tls', 'caller', 'TLS'),
    L('set_tid', 'caller', 'address of the set_tid array'),
    L('set_tid_size', 'caller', 'entries of set_tid'),
    L('cgroup', 'caller', 'cgroup fd'),
  ],
} as const satisfies StructSpec;
export const CLONE_ARGS = offsetsOf(CLONE_ARGS_SPEC.fields);

/** struct target_pid_set (seed 002's clone_with_pids) in user memory. */
export const TARGET_PID_SET_SPEC = {
  name: 'target_pid_set',
  kernel: 'struct target_pid_set (the clone_with_pids patch set, seed 002)',
  doc: 'User memory read by clone_with_pids: the count, then target_pids[num_pids] inline.',
  fields: [
    L('num_pids', 'caller', 'entries that follow (target_pids[], oldest namespace first)'),
  ],
} as const satisfies StructSpec;
export const TARGET_PID_SET = offsetsOf(TARGET_PID_SET_SPEC.fields);

// ---------------------------------------------------------------------------------------------
// Limits of the model (the kernel's where it has one).
// ---------------------------------------------------------------------------------------------

/** Slots of G.tok_ring: at least the most CPUs a machine has (ncpus <= NR_CPUS), a power of two. */
export const TOK_RING_WORDS = NR_CPUS;

/** include/linux/pid_namespace.h: MAX_PID_NS_LEVEL. The initial namespace is level 0. */
export const MAX_PID_NS_LEVEL = 32;
/** Entries of a CPU's held-lock stack (lockdep's MAX_LOCK_DEPTH is 48). */
export const MAX_LOCK_DEPTH = 16;
/** Words per held-lock entry: lock address, mode (HELD_*) | class << 8, acquire site id. */
export const HELD_WORDS = HELD_LOCK.SIZE;
/** Sleeping locks a task may hold at once (mutexes and SRCU read sides). */
export const MAX_TASK_HELD = 4;
/** Local words of the restart block (the model's kernel stack frame of a sleeping call). */
export const RESTART_LOCALS = 8;
/** Number of lock classes with per-CPU statistics. */
export const MAX_LOCK_CLASSES = 32;

// ---------------------------------------------------------------------------------------------
// Structures.
// ---------------------------------------------------------------------------------------------

// Guards of the kernel records (src/mm/guard.ts): the lock classes are lockdep's names.
const TASKLIST_W = lock('tasklist_lock', 'write');
/** Written under tasklist_lock held for write; read under it (any mode). */
const TL = locked(TASKLIST_W);
/** Written under tasklist_lock (write); read under it, or RCU, or by current itself. */
const TL_RCU_CUR = locked(TASKLIST_W, [RCU_READ, CURRENT]);
/** An RCU-protected pointer or list link written under tasklist_lock (write). */
const TL_RCU = rcu(TASKLIST_W);
/** task_lock(p): p->alloc_lock of the same task. */
const TASK_LOCK = lock('&p->alloc_lock', 'write', { self: 'alloc_lock' });
/** p->sighand->siglock. */
const TASK_SIGLOCK = lock('&sighand->siglock', 'write', { ptr: 'sighand', struct: 'signal_struct', field: 'siglock' });
/** The siglock of the same signal_struct/sighand record. */
const SIGLOCK = lock('&sighand->siglock', 'write', { self: 'siglock' });

/** The pids controller's cgroups in the model's cgroupfs: the root and NR_PIDS_CGROUPS - 1 children of it, made at boot. */
export const NR_PIDS_CGROUPS = 4;

/**
 * struct pids_cgroup (kernel/cgroup/pids.c): the charge of every task in the cgroup and below, and
 * the limit. The counters are atomic64_t in the kernel; pids.max and pids.current never pass
 * PIDS_MAX (PID_MAX_LIMIT + 1), so one word holds them.
 */
export const PIDS_CGROUP_SPEC = {
  name: 'pids_cgroup',
  kernel: 'struct pids_cgroup (kernel/cgroup/pids.c)',
  doc: 'One pids cgroup: counter (pids.current, charged hierarchically by pids_try_charge / pids_charge and uncharged by pids_uncharge), limit (pids.max), the watermark (pids.peak), the parent (css.parent, by index: -1 for the root, which is never charged) and the events counters.',
  fields: [
    L('counter', 'Atomics (atomic64_t)', 'pids.current: tasks charged to this cgroup and its descendants'),
    L('limit', 'Atomics (atomic64_t)', 'pids.max; PIDS_MAX is "max" (no limit)'),
    L('watermark', 'racy READ_ONCE / WRITE_ONCE (pids_update_watermark)', 'pids.peak'),
    L('parent', 'write-once (boot)', 'index of the parent pids_cgroup in G.pids_cgroup; -1 for the root'),
    L('events_max', 'Atomics.add', 'pids.events max (PIDCG_MAX): forks refused in the subtree because this limit was hit'),
    L('events_forkfail', 'Atomics.add', 'pids.events.local (PIDCG_FORKFAIL): forks in this cgroup refused; the first one logs "cgroup: fork rejected by pids controller"'),
  ],
} as const satisfies StructSpec;

/** The first task-list corruption's snapshot (G.list_debug): written once, by the first reporter (seen: Atomics.add), under tasklist_lock (write, or read for the stress checker's tree walk). */
export const LIST_DEBUG_SPEC = {
  name: 'list_debug',
  kernel: 'the model\'s CONFIG_DEBUG_LIST report for the children/sibling lists (lib/list_debug.c prints it instead)',
  doc: 'What the first failed check saw, kept for the end-of-run report: the run goes on, and the tasks it names are freed and reused.',
  fields: [
    L('seen', 'Atomics.add', 'corruptions found (only the first is kept: the reporter that counted from 0 writes the rest)'),
    L('check', 'the first reporter', 'LD_* check that failed'),
    L('parent', 'the first reporter', 'the parent the writer named'),
    L('task', 'the first reporter', 'the task being linked or unlinked'),
    L('real_parent', 'the first reporter', 'its real_parent then'),
    L('group_leader', 'the first reporter', 'its group_leader then'),
    L('cpu', 'the first reporter', 'the CPU that found it'),
    L('id', 'the first reporter', 'the task\'s serial number (TASK.id)'),
    A('hist', SIBLING_HIST, 'the first reporter', 'its TASK.sibling_hist, oldest first'),
    L('owner', 'the first reporter', 'the task whose children list it is really on (0: none found)'),
    L('other', 'the first reporter', 'the other task of the check (de_thread: the leader; forget_original_parent: the child on the list)'),
    A('other_hist', SIBLING_HIST, 'the first reporter', 'the other task\'s (else the owner\'s) TASK.sibling_hist, oldest first'),
  ],
} as const satisfies StructSpec;

export const GLOBAL_SPEC = {
  name: 'kernel',
  kernel: 'kernel globals (init_task, tasklist_lock, pidmap_lock, pid_caches_mutex, rcu_state, ...)',
  doc: 'One instance at a fixed address. Holds the global locks, the run control words and the roots of every object graph.',
  fields: [
    L('magic', 'write-once', 'PIDR magic, checked by workers on attach'),
    L('ncpus', 'write-once', 'number of CPU workers'),
    L('mode', 'write-once per run', 'MODE_FREE or MODE_CONTROLLED'),
    L('init_task', 'write-once', 'pointer to the init task (pid 1 of init_pid_ns)'),
    L('init_pid_ns', 'write-once', 'pointer to init_pid_ns'),
    L('init_user_ns', 'write-once', 'pointer to init_user_ns'),
    L('init_nsproxy', 'write-once', 'pointer to init_nsproxy'),
    L('pid_max', 'write-once', 'size of every pid bitmap (the configured pid_max): the model\'s capacity for pid numbers in one namespace; init_pid_ns.pid_max starts at it, and alloc_pid never goes past it (PIDNS.pid_max is the kernel\'s per-namespace limit)'),
    L('bug_switches', 'write-once per run', 'BUG_* bits: which documented buggy code paths are compiled in'),
    L('inject', 'write-once per run', 'INJECT_* bits: fault and delay injection'),
    L('inject_enomem_permille', 'write-once per run', 'probability of injected ENOMEM per allocation point'),
    L('inject_delay_permille', 'write-once per run', 'probability of a delay at a scheduling hook (free-running)'),
    L('rwlock_spin_us', 'write-once per run', 'free-running: how long a queued-rwlock waiter spins on the lock word (after its first 1,024 looks) before it naps, in µs; 0 when a lock holder\'s thread may be off its core for lack of one (--host-preemption with more CPUs than cores) - src/locking/qrwlock.ts qrw_wait, set by the supervisor'),
    L('window_delay_permille', 'write-once per run', 'probability of a delay at the scheduling hook of a named race window (site >= SITE_WINDOW_MIN, src/sched/hook.ts; free-running): `pidrace stress --window-delay`'),
    L('sched_fork_balance', 'write-once per run', '1: wake_up_new_task places a new task with select_task_rq(WF_FORK) (src/sched/core.ts: an idle CPU, else the least loaded; `pidrace stress --fork-balance`); 0 (default): on its parent\'s CPU'),
    L('uaccess_fault_permille', 'write-once per run', 'probability that a copy to user memory (put_user) faults and the task sleeps on it (src/mm/uaccess.ts); 0: never'),
    L('lockdep_on', 'write-once per run', 'lock-order validation enabled'),
    L('smp_off', 'write-once per run', '1: a uniprocessor build (CONFIG_SMP=n) on a one-CPU machine: lock words use plain accesses; 0 (default): real atomics always'),
    L('hung_timeout_ms', 'write-once per run', 'free-running watchdog bound'),
    L('violation_log', 'write-once', 'pointer to the violation log region'),
    L('lockdep_graph', 'write-once', 'pointer to the lock-order matrix region'),
    L('ctl_flags', 'write-once per run', 'CTL_* (strategy, replay, irq injection)'),
    L('ctl_pct_depth', 'write-once per run', 'PCT depth d'),
    L('ctl_replay_len', 'write-once per run', 'number of recorded choices to replay'),
    A('ctl_pct_points', 8, 'write-once per run', 'PCT priority change points (decision numbers)'),
    L('ctl_pct_fair_after', 'write-once per run', 'PCT: from this decision on, a uniformly random enabled CPU (the fair tail; 0: never)'),
    L('ctl_max_decisions', 'write-once per run', 'bound on decisions before the run is cut (a livelock guard)'),
    L('ctl_tail', 'write-once per run', 'controlled replay: policy after the recorded choices run out (CTL_TAIL_*)'),
    { ...L('run_state', 'Atomics', 'RUN_* (setup, running, stopping, stopped, deadlock, crashed)'), align: 16 },
    L('progress', 'Atomics.add', 'incremented by every completed syscall; the hung-task watchdog reads it'),
    L('cpus_ready', 'Atomics.add', 'CPU workers attached and waiting for RUN_RUNNING'),
    L('cpus_exited', 'Atomics.add', 'CPU workers that left their loop'),
    L('crash_cpu', 'Atomics', 'cpu+1 of the first CPU whose worker threw'),
    L('crash_task', 'Atomics', 'task it was running'),
    L('freeze', 'Atomics', '1 while the main thread snapshots a stopped run (deadlock, hang, crash): CPUs park in check_abort instead of unwinding'),
    L('violations', 'Atomics.add', 'number of invariant violations recorded in the violation log'),
    { ...E('tasklist_lock', RWLOCK_SPEC, 'itself', 'rwlock_t tasklist_lock (queued rwlock)'), align: 16 },
    // tasklist_lock alone on its cache line (kernel/fork.c: __cacheline_aligned DEFINE_RWLOCK): fork
    // reads nr_threads and adds to seq_tasks outside the lock, which would bounce the lock word.
    { ...L('nr_threads', 'tasklist_lock (write)', 'number of live tasks (kernel nr_threads)'), align: 16 },
    L('total_forks', 'tasklist_lock (write)', 'forks since boot'),
    L('seq_tasks', 'Atomics.add', 'task ids handed out (for reports)'),
    { ...E('pidmap_lock', SPINLOCK_SPEC, 'itself', 'spinlock_t pidmap_lock: guards every pid_namespace idr and pid_allocated'), align: 16 },
    { ...E('rcu', RCU_STATE_SPEC, 'Atomics', 'rcu_state: see RCU_* offsets'), align: 16 },
    E('rcu_gp_wq', WAITQ_SPEC, 'its lock', 'tasks sleeping in synchronize_rcu'),
    { ...E('srcu_exit', SRCU_SPEC, 'Atomics', 'tasks_rcu_exit_srcu: see SRCU_* offsets'), align: 16 },
    E('srcu_wq', WAITQ_SPEC, 'its lock', 'tasks sleeping in synchronize_srcu'),
    { ...L('ctl_turn', 'Atomics (controlled mode)', 'the CPU allowed to run now, in controlled mode'), align: 16 },
    L('ctl_decisions', 'ctl_turn holder', 'scheduling decisions taken so far'),
    L('ctl_hooks', 'ctl_turn holder', 'scheduling hooks passed so far, with or without a choice: the controlled-mode stall clock, bounded at CTL_HOOKS_PER_DECISION x ctl_max_decisions (a one-CPU livelock takes no decisions)'),
    L('ctl_rng', 'ctl_turn holder', 'PRNG state of the controlled-mode strategy (src/lib/prng.ts)'),
    L('hotplug_rng', 'main thread', 'PRNG state of the hotplug driver (which CPU goes offline or online next)'),
    L('ctl_pct_next_change', 'ctl_turn holder', 'decision number of the next PCT priority change'),
    L('ctl_switches', 'ctl_turn holder', 'context switches between CPUs in controlled mode'),
    L('ctl_preemptions', 'ctl_turn holder', 'controlled mode: switches away from a CPU that could have gone on'),
    { ...E('pid_caches_mutex', MUTEX_SPEC, 'itself', 'struct mutex pid_caches_mutex (kernel/pid_namespace.c)'), align: 16 },
    { ...E('userns_state_mutex', MUTEX_SPEC, 'itself', 'struct mutex userns_state_mutex (kernel/user_namespace.c): id map and setgroups writes'), align: 16 },
    A('pid_cache_created', MAX_PID_NS_LEVEL + 1, 'pid_caches_mutex (written), READ_ONCE (read)', 'pid_cache[level] created flags (create_pid_cachep)'),
    E('ucounts_lock', SPINLOCK_SPEC, 'itself', 'spinlock_t ucounts_lock (kernel/ucount.c)'),
    E('stress', STRESS_SPEC, 'Atomics', 'pidrace stress run control: see STRESS_* offsets'),
    AE('test_mutex', 2, MUTEX_SPEC, 'itself', 'two test mutexes (classes test_mutex_a, test_mutex_b) for detection tests'),
    AE('test_spin', 2, SPINLOCK_SPEC, 'itself', 'two test spinlocks (classes test_spin_a, test_spin_b) for detection tests'),
    E('kprobe_mutex', MUTEX_SPEC, 'itself', 'struct mutex kprobe_mutex (kernel/kprobes.c), for catalog entry 2 (src/kernel/kprobes.ts)'),
    { ...E('cgroup_threadgroup_rwsem', PERCPU_RWSEM_SPEC, 'itself', 'struct percpu_rw_semaphore cgroup_threadgroup_rwsem (kernel/cgroup/cgroup.c): read by fork (cgroup_can_fork to cgroup_post_fork) and exit_signals, written by a tasks or cgroup.procs write (src/kernel/cgroup_pids.ts)'), align: 16 },
    E('cgroup_mutex', MUTEX_SPEC, 'itself', 'struct mutex cgroup_mutex (kernel/cgroup/cgroup.c): serializes tasks and cgroup.procs writes'),
    L('ns_inum_seq', 'Atomics.add', 'proc inode numbers handed out to namespaces (ns_alloc_inum)'),
    L('pidfs_ino_seq', 'Atomics.add', 'pidfs inode numbers handed out to struct pids (alloc_pid)'),
    L('shmem_ino_seq', 'Atomics.add', 'inode numbers handed out to memfds (shmem get_next_ino)'),
    L('fasync_owners', 'write-once per registration (setup)', 'fasync_structs whose f_owner holds a struct pid reference (linked by owned_next), for the audit'),
    L('cad_pid', 'xchg (proc_do_cad_pid); READ_ONCE (the sysctl read)', 'struct pid *cad_pid (init/main.c): the process ctrl-alt-del signals, a reference held (kernel_init_freeable\'s get_pid of init\'s pid; proc_do_cad_pid\'s find_get_pid); the audit counts it (src/kernel/reboot.ts)'),
    AE('pids_cgroup', NR_PIDS_CGROUPS, PIDS_CGROUP_SPEC, 'Atomics', 'the pids controller\'s cgroups (src/kernel/cgroup_pids.ts): [0] the root, [1 ..] children of the root'),
    L('proc_mnt_ns', 'rcu_assign_pointer / xchg (mount, umount); rcu_dereference (path walk)', 'the pid namespace of the proc instance mounted at /proc (sb->s_fs_info, a reference held), 0 when none (src/kernel/proc_root.ts)'),
    L('trace_events', 'write-once', 'records per CPU trace ring (a power of two), 0 when tracing is off (src/tracing/trace.ts)'),
    L('trace_epoch', 'write-once', 'trace clock origin: Unix time in seconds (unsigned); event timestamps count TRACE_TICKS_PER_MS from it'),
    // Alone on its line, as fs/file_table.c declares its counter __cacheline_aligned_in_smp: the
    // fork and exit paths read it, and only file creation and release write it.
    { ...L('nr_files', 'Atomics.add (file_new, file_release); read racily (data_race)', 'files allocated (fs/file_table.c nr_files, a percpu_counter there): copy_files, exit_files and the fd-table scans skip the scan of the file cache when it is 0'), align: 16 },
    { ...L('run_tokens', 'write-once per run', 'run tokens (src/sched/run_token.ts): how many CPUs may run kernel code at once, as many as host cores; 0: off (--host-preemption, controlled mode, in-process, or no more CPUs than cores)'), align: 16 },
    L('tok_tail', 'Atomics.add', 'run-token tickets handed out'),
    E('list_debug', LIST_DEBUG_SPEC, TL, 'the first sibling-list corruption seen (sibling_list_corrupt, src/kernel/sched_task.ts), for the report'),
    L('tok_head', 'Atomics.add', 'run-token tickets given back; ticket t holds a token while t - tok_head < run_tokens'),
    A('tok_ring', TOK_RING_WORDS, 'Atomics', 'waiter of ticket t: cpu+1 at tok_ring[t % TOK_RING_WORDS], so a release wakes exactly the CPU it lets in'),
    L('mux_park', 'Atomics.add / wait / notify', 'several CPUs per host thread (src/sched/mux.ts): the word host threads park on when they find nothing to run; bumped by kick_cpu of a hosted CPU and by a turn that ends with work left'),
  ],
} as const satisfies StructSpec;

export const CPU_SPEC = {
  name: 'cpu',
  kernel: 'per-CPU state: struct rq, rcu_data, lockdep held_locks, preempt/irq counts',
  doc: 'One record per CPU worker; written mostly by its own CPU, read by everyone for detection.',
  fields: [
    // Cache line 1: read by other CPUs (RCU grace-period scans, wake-ups, the token queue), written
    // rarely. Line 2: written by other CPUs (runqueue, kicks, token hand-offs). Lines 3-: this CPU's
    // own hot words (preempt_count, held locks, counters), which no other CPU reads on a hot path:
    // kept off the first two lines so that a remote look does not bounce them (false sharing).
    L('id', 'write-once', 'CPU number'),
    L('idle', 'own CPU (Atomics.store)', '1 while parked with nothing to run (an extended quiescent state for RCU)'),
    L('online', 'hotplug (Atomics)', '1 when the CPU takes tasks'),
    L('rcu_qs_gp', 'own CPU (Atomics.store), read by GP completers', 'last grace period for which this CPU reported a quiescent state'),
    L('tok_wait', 'own CPU (Atomics.store)', '1 while this CPU waits for a run token, or for its turn on the host thread that hosts it (src/sched/mux.ts): runnable, never blocked in the wait-for graph'),
    L('mux_lead', 'write-once per run (main thread)', 'several CPUs per host thread (src/sched/mux.ts): id + 1 of the first CPU of the thread this CPU starts on (its home, which reports it); 0: this CPU has a thread of its own'),
    L('mux_turn', 'Atomics (compareExchange to take, store to end)', 'several CPUs per host thread: thread + 1 of the host thread running a turn of this CPU, 0 between turns'),
    L('abort', 'Atomics', 'set by the main thread to make this CPU leave (hotplug, stop)'),
    L('hotplug', 'Atomics', 'CPU hotplug request from the main thread: HP_* (offline at the next safe point, back online)'),
    L('irq_pending', 'controller', 'an interrupt the controller raised on this CPU'),
    L('irq_vec', 'raise_irq (before irq_pending)', 'handler (IRQV_* of src/sched/irq.ts) of the interrupt pending on this CPU'),
    L('irq_arg', 'raise_irq (before irq_pending)', 'argument of the pending interrupt handler'),
    L('irq_permille', 'raise_irq (before irq_pending)', 'chance per eligible scheduling hook that the pending interrupt is delivered there (free-running, random strategy)'),
    L('pct_prio', 'ctl_turn holder', 'PCT priority of this CPU'),
    L('trace_ring', 'write-once', 'address of this CPU\'s trace ring (G.trace_events records of trace_event), 0 when tracing is off'),
    { ...E('rq_lock', SPINLOCK_SPEC, 'itself', 'runqueue lock (rq->__lock)'), align: 16 },
    L('rq_first', 'rq_lock', 'first runnable task'),
    L('rq_last', 'rq_lock', 'last runnable task'),
    L('rq_nr', 'rq_lock (Atomics for lock-free peeks)', 'rq->nr_running'),
    L('park', 'Atomics.wait/notify', 'word the CPU parks on when idle; wake_up bumps it'),
    L('tok_wake', 'Atomics.wait/notify', 'word a CPU waiting for a run token parks on; the release that lets it in stores 1'),
    { ...L('curr', 'own CPU (Atomics.store)', 'task running now (rq->curr), 0 when idle'), align: 16 },
    L('in_irq', 'own CPU', 'interrupt nesting (in_interrupt())'),
    L('irqs_off', 'own CPU', 'local_irq_disable nesting (spin_lock_irq, write_lock_irq)'),
    L('preempt_count', 'own CPU', 'spinlocks/rwlocks held (sleeping while this is non-zero is a bug)'),
    L('rcu_nesting', 'own CPU', 'rcu_read_lock nesting'),
    L('site', 'own CPU', 'site id of the last scheduling hook (where it is)'),
    L('hook_seq', 'own CPU', 'scheduling-hook passes'),
    L('switches', 'own CPU', 'context switches'),
    L('switch_stamp', 'own CPU', 'stall clock (stall_clock: decisions in controlled mode, ms free-running) at the last context switch: the soft-lockup detector reads it'),
    L('qs_stamp', 'own CPU', 'stall clock when this CPU last reported a quiescent state for a new grace period (RCU CPU stall detector)'),
    L('syscalls', 'own CPU', 'syscalls completed'),
    L('runs', 'own CPU', 'tasks picked to run (per-CPU balance)'),
    E('rcu_cb', RCU_CBLIST_SPEC, 'own CPU', 'call_rcu queue of embedded rcu_heads'),
    L('held_depth', 'own CPU', 'lockdep: number of held spin/rw locks'),
    AE('held', MAX_LOCK_DEPTH, HELD_LOCK_SPEC, 'own CPU', 'lockdep held_locks'),
    L('wait_addr', 'own CPU', 'address of the word this CPU spins on, 0 if none'),
    L('wait_op', 'own CPU', 'WAIT_* condition that lets the spin end'),
    L('wait_arg', 'own CPU', 'operand of the condition'),
    L('wait_lock', 'own CPU', 'lock being acquired while spinning (for the wait-for graph)'),
    L('wait_mode', 'own CPU', 'HELD_* mode being acquired'),
    L('wait_since', 'own CPU', 'ms timestamp (low 31 bits) the spin started'),
    L('hotplugs', 'own CPU', 'times this CPU went offline'),
    AE('slab_cpu', NR_KMEM_CACHES, KMEM_CACHE_CPU_SPEC, 'own CPU', 'per-CPU object lists of the kmem caches (array_cache: allocations and frees without the list lock)'),
    L('irq_deferred', 'own CPU', 'eligible hooks the pending interrupt was not delivered at (delivery is forced at IRQ_MAX_DEFER)'),
    L('irq_delivered', 'own CPU', 'interrupts delivered on this CPU'),
    L('trace_head', 'own CPU (plain; read by the main thread once the CPUs are frozen or gone)', 'trace events written since boot: the next record is trace_ring + (trace_head % G.trace_events) * trace_event.SIZE'),
    L('tok_yields', 'own CPU', 'run tokens (or the host thread, src/sched/mux.ts) handed on at the end of a time slice'),
  ],
} as const satisfies StructSpec;

export const TASK_SPEC = {
  name: 'task',
  kernel: 'struct task_struct (include/linux/sched.h)',
  doc: 'A task is a record, not a thread: any CPU may run it. A task that sleeps keeps its kernel state in the restart block and gives its CPU back.',
  fields: [
    L('state', 'Atomics (try_to_wake_up CAS)', 'TASK_RUNNING / TASK_INTERRUPTIBLE / TASK_UNINTERRUPTIBLE / TASK_DEAD (__state)'),
    L('exit_state', locked([TASKLIST_W, all_of(lock('tasklist_lock', 'held'), MARKED)], [RCU_READ, CURRENT, TASK_SIGLOCK], 'wait_task_zombie: cmpxchg under the read lock; zap_other_threads reads it under the siglock'), 'EXIT_ZOMBIE / EXIT_DEAD'),
    L('flags', 'current only', 'PF_EXITING, PF_KTHREAD ...'),
    L('id', 'write-once', 'serial number for reports'),
    L('usage', 'Atomics (refcount_t)', 'get_task_struct references (task->usage): 1 held for all rcu_users, plus one per get_task_struct; the last put_task_struct frees the task'),
    L('rcu_users', 'Atomics (refcount_t)', 'task->rcu_users: 2 at fork (release_task and the last switch away, finish_task_switch); the last put_task_struct_rcu_user queues delayed_put_task_struct'),
    L('on_cpu', 'Atomics', 'cpu+1 while a CPU runs it (p->on_cpu); a CPU taking it waits until 0'),
    L('on_rq', 'Atomics (CAS between a waker and the CPU that blocks the task)', '1 while queued on a runqueue or running (p->on_rq: cleared when it blocks; a waker and the blocking CPU settle who queues it with one CAS)'),
    L('rq_next', 'rq_lock', 'runqueue link'),
    L('cpu', 'rq_lock', 'CPU whose runqueue it was last put on'),
    L('pid', TL_RCU_CUR, 'struct pid of PIDTYPE_PID (task->thread_pid)'),
    L('tgid_pid', TL_RCU_CUR, 'struct pid of the thread group (PIDTYPE_TGID)'),
    L('group_leader', TL_RCU_CUR, 'thread-group leader'),
    L('thread_next', rcu(TASKLIST_W, 'added and removed under the siglock too', [TASK_SIGLOCK]), 'next thread of the group (signal->thread_head list)'),
    L('real_parent', TL_RCU_CUR, 'real_parent'),
    L('parent', TL_RCU_CUR, 'parent (the tracer while ptraced)'),
    L('children', TL, 'first child'),
    L('sibling_next', TL, 'next sibling in real_parent->children'),
    L('sibling_prev', TL, 'previous sibling'),
    L('ptraced', TL, 'first tracee (task->ptraced)'),
    L('ptrace_next', TL, 'next in the tracer ptraced list (ptrace_entry)'),
    L('ptrace', TL_RCU_CUR, 'PT_PTRACED when traced'),
    L('tasks_next', TL_RCU, 'next in the global task list (init_task.tasks)'),
    L('tasks_prev', TL, 'previous in the global task list'),
    L('signal', 'write-once', 'struct signal_struct (shared by a thread group)'),
    L('sighand', 'write-once', 'struct sighand_struct (siglock, SIGCHLD disposition)'),
    L('pending', written_under(TASK_SIGLOCK, 'or none once __exit_signal cleared ->sighand: release_task flushes it lockless; __fatal_signal_pending reads it locklessly'), 'private pending signal mask (bit n-1 for signal n)'),
    L('sigpending', written_under([TASK_SIGLOCK, CURRENT], 'set by senders under siglock, cleared by current; signal_pending reads it locklessly'), 'TIF_SIGPENDING'),
    L('notify_signal', 'set by task_work_add(TWA_SIGNAL) (Atomics), cleared by current', 'TIF_NOTIFY_SIGNAL: task work to run; signal_pending is true while it is set (src/kernel/task_work.ts)'),
    L('exit_code', locked([TASKLIST_W, CURRENT, TASK_SIGLOCK], [RCU_READ, MARKED], 'do_exit stores current\'s own; a ptrace stop\'s code is consumed (wait_task_stopped) under the siglock; wait_task_zombie reads a zombie it owns with READ_ONCE'), 'exit code (status for wait4); in a ptrace stop, the stop\'s code (SIGTRAP | event << 8) until the tracer consumes it'),
    L('exit_signal', locked([TASKLIST_W, all_of(CURRENT, MARKED)], [RCU_READ, CURRENT], 'de_thread\'s no_thread_group stores current\'s own SIGCHLD locklessly'), 'signal to the parent at exit (-1 for threads)'),
    L('nsproxy', locked(TASK_LOCK, [CURRENT], 'current may read its own without it'), 'struct nsproxy'),
    E('alloc_lock', SPINLOCK_SPEC, 'itself', 'task_lock(): spinlock_t alloc_lock'),
    L('cred_uid', locked(TASK_LOCK, [RCU_READ, CURRENT], 'commit_creds'), 'cred->euid'),
    L('cred_user_ns', locked(TASK_LOCK, [RCU_READ, CURRENT], 'commit_creds'), 'cred->user_ns'),
    L('cred_caps', locked(TASK_LOCK, [RCU_READ, CURRENT], 'commit_creds'), 'cred->cap_effective (CAP_* bits of the model)'),
    L('cred_gid', locked(TASK_LOCK, [RCU_READ, CURRENT], 'commit_creds'), 'cred->egid (a kgid)'),
    L('wait_chan', 'current (set before sleeping)', 'WCHAN_* kind of what the task sleeps on'),
    L('wait_obj', 'current', 'object it sleeps on (lock, wait queue, namespace, task)'),
    L('wq_head', 'the wait queue lock', 'wait queue it is linked on, 0 if none'),
    L('wq_next', 'the wait queue lock', 'next waiter on that queue'),
    L('wq_arg', 'current', 'what the waiter waits for (grace period number, srcu index, zap_pid_ns_processes\' pid_allocated target)'),
    L('sleep_since', 'current', 'ms timestamp (low 31 bits) when it went to sleep'),
    L('restart_fn', 'current', 'SYS_* of the sleeping call to resume, 0 in user mode'),
    L('restart_phase', 'current', 'phase inside that call'),
    A('restart', RESTART_LOCALS, 'current', 'saved locals of the sleeping call (restart_block)'),
    L('srcu_idx', 'current', 'tasks_rcu_exit_srcu read-side index + 1 while held, 0 otherwise'),
    L('zap_phase', 'current', 'zap_pid_ns_processes restart phase (ZAP_* in pid_namespace.ts), 0 when not inside it'),
    L('held_depth', 'current', 'sleeping locks held (mutexes)'),
    A('held', MAX_TASK_HELD, 'current', 'addresses of the mutexes it holds'),
    E('ucall', INSN_SPEC, 'current', 'the pending system call (re-run on resume until it completes)'),
    L('prog', 'current', 'user program (address in the program region) or 0 when scripted'),
    L('pc', 'current', 'user program counter'),
    L('stress_rng', 'current', 'PRNG state of the stress mix, seeded from the run seed and the task id'),
    L('stress_seeded', 'current', '1 once stress_rng was seeded'),
    L('fault_rng', 'current', 'PRNG state of the fault injector (should_fail_alloc), so a replayed schedule replays the same failures'),
    L('last_ret', 'current', 'result of the last syscall'),
    L('user_arg', 'current', 'argument the program keeps between steps (e.g. child to wait for)'),
    L('rcu_tasks_exiting', 'per-CPU exit list lock', 'on a per-CPU list of exiting tasks (rcu-tasks final fix)'),
    E('rcu', RCU_HEAD_SPEC, 'call_rcu', 'embedded rcu_head (delayed_put_task_struct)'),
    L('poison', 'Atomics', 'POISON_LIVE / POISON_FREED'),
    L('free_next', 'slab lock', 'slab free-list link'),
    L('nvcsw', 'current', 'voluntary context switches (rcu-tasks holdout rule)'),
    // ---- process lifecycle (fork.ts, exit.ts, signal.ts, ptrace.ts, rcu/tasks.ts) ----
    L('children_last', TL, 'last child (list_add_tail on real_parent->children)'),
    A('sibling_hist', SIBLING_HIST, TL, 'the last SIBLING_HIST changes of this task\'s sibling link or real_parent, a ring (sibling_hist_add, src/kernel/sched_task.ts): SH_* op << 28 | CPU << 22 | the parent\'s task slot, for the sibling-list corruption report'),
    L('sibling_hist_n', TL, 'changes recorded in sibling_hist (the next one goes to slot n % SIBLING_HIST)'),
    L('pgrp', TL_RCU_CUR, 'process group: struct pid of PIDTYPE_PGID (a get_pid reference is held)'),
    L('session', TL_RCU_CUR, 'session: struct pid of PIDTYPE_SID (a get_pid reference is held)'),
    L('blocked', written_under(TASK_SIGLOCK, 'sigprocmask; wants_signal and recalc_sigpending read it under the siglock, fork copies it into the unpublished child'), 'blocked signal mask (bit n-1 for signal n)'),
    L('jobctl', written_under(TASK_SIGLOCK, 'task_is_stopped reads JOBCTL_STOPPED locklessly'), 'JOBCTL_* bits (include/linux/sched/jobctl.h): stop signal, STOP_PENDING, STOP_CONSUME, STOP_DEQUEUED, TRAP_STOP, TRAP_NOTIFY, STOPPED, TRACED'),
    L('sig_caught', locked(TASK_SIGLOCK), 'signals whose handler ran since the last read (the model runs no user code: delivery is recorded here)'),
    E('orig_ucall', INSN_SPEC, 'current', 'the system call that returned -ERESTART* (regs->orig_ax): get_signal restarts it'),
    L('last_status', 'current', 'wait4 status word of the last reaped child (exit code << 8 | signal)'),
    // waitid's siginfo (kernel/exit.c kernel_waitid fills a kernel_siginfo_t; SYSCALL_DEFINE5(waitid) copies it out)
    L('wait_si_signo', 'current', 'waitid siginfo si_signo: SIGCHLD when a child was reported, else 0'),
    L('wait_si_code', 'current', 'waitid siginfo si_code: CLD_EXITED / CLD_KILLED / CLD_DUMPED / CLD_STOPPED / CLD_CONTINUED'),
    L('wait_si_pid', 'current', "waitid siginfo si_pid: the child's pid in the caller's pid namespace (0 if none there)"),
    L('wait_si_status', 'current', 'waitid siginfo si_status: exit code, terminating/stop signal, or SIGCONT'),
    L('exit_phase', 'current', 'do_exit restart phase (EXP_* in exit.ts), 0 when not exiting'),
    L('exit_flags', 'current', 'do_exit locals: EXF_GROUP_DEAD'),
    L('exit_dead', 'current', 'head of exit_notify\'s local dead list (tasks to release_task), linked by dead_next'),
    L('dead_next', 'the list owner', 'link in an exiting task\'s dead list (the kernel reuses ptrace_entry)'),
    L('fork_phase', 'current', 'copy_process restart phase (FKP_* in fork.ts), 0 when not forking'),
    L('fork_child', 'current', 'the child being built by copy_process; after a fork, the last child'),
    L('fork_flags', 'current', 'clone flags of the copy_process in progress'),
    L('fork_pid', 'current', 'copy_process asleep in cgroup_can_fork (FKP_CGROUP): the struct pid alloc_pid gave the child'),
    L('fork_pidfd', 'current', 'copy_process asleep in cgroup_can_fork (FKP_CGROUP): the CLONE_PIDFD fd, -1 if none'),
    L('fork_exit_signal', 'current', 'copy_process asleep in cgroup_can_fork (FKP_CGROUP): the exit signal read before it (BUG_CLONE_PARENT_EXIT_SIGNAL), -1 if none'),
    L('percpu_rwsem_read', 'current, or the up_write that takes the semaphore for it while it sleeps in percpu_rwsem_wait (under sem->waiters.lock)', 'the percpu_rw_semaphore it holds for read, 0 if none (percpu_down_read is not recursive); the wait-for graph reads it'),
    L('percpu_rwsem_phase', 'current', 'percpu_down_write restart phase (PDW_* in src/locking/percpu_rwsem.ts)'),
    L('stat_ino', 'current', 'fstat: st_ino of the last fstat (low 32 bits; nsfs inode numbers read as unsigned)'),
    L('stat_dev', 'current', 'fstat: st_dev of the last fstat (NSFS_DEV, PIDFS_DEV or SHMEM_DEV in nsfs.ts)'),
    L('clone_parent_tid', 'current', "legacy clone's *parent_tidptr word: CLONE_PIDFD puts the child's pidfd here (clone3 writes args->pidfd in program memory)"),
    L('rcu_tasks_phase', 'current', 'synchronize_rcu_tasks restart phase (RTP_* in rcu/tasks.ts)'),
    L('rcu_tasks_gp', 'current', 'normal grace period synchronize_rcu_tasks polls with'),
    L('rcu_tasks_holdout', 'Atomics', '1 while an rcu-tasks grace period waits for this task (t->rcu_tasks_holdout)'),
    L('rcu_tasks_nvcsw', 'rcu-tasks scanner', 'nvcsw snapshot taken when made a holdout (t->rcu_tasks_nvcsw)'),
    L('thread_prev', TL, 'previous thread of the group (the thread ring is doubly linked, as signal->thread_head: O(1) add and delete)'),
    L('pids_cgrp', 'cgroup_threadgroup_rwsem: its read side for current\'s fork (cgroup_can_fork sets the child\'s), its write side for a tasks or cgroup.procs write (cgroup_migrate), which exit_signals\' read side keeps off a task turning PF_EXITING', 'index of the task\'s pids cgroup in G.pids_cgroup (task_css(task, pids_cgrp_id)); 0: the root'),
    L('pids_charged', 'Atomics', 'model bookkeeping: 1 while the task holds its charge in its pids cgroup (cgroup_can_fork or a tasks-file write until pids_release / pids_free / pids_cancel_fork); the pids refusal check reads it'),
  ],
} as const satisfies StructSpec;

export const PID_SPEC = {
  name: 'pid',
  kernel: 'struct pid (include/linux/pid.h); struct upid numbers[] follow inline',
  doc: 'Freed through call_rcu (delayed_put_pid); readers look it up under rcu_read_lock. The stride depends on the configured maximum level: level+1 upids of (nr, ns, hash_next).',
  fields: [
    L('count', 'Atomics (refcount_t)', 'references (get_pid/put_pid)'),
    L('level', 'write-once', 'level of the namespace it was allocated in'),
    L('task_pid', rcu(TASKLIST_W, 'pid_has_task tests it with READ_ONCE', [MARKED]), 'task using it as PIDTYPE_PID'),
    L('task_tgid', rcu(TASKLIST_W, 'pid_has_task tests it with READ_ONCE', [MARKED]), 'thread-group leader using it as PIDTYPE_TGID'),
    L('pidfds', 'tasklist_lock', 'pidfds open on it (for the leak check)'),
    L('ino', 'write-once (alloc_pid)', 'pidfs inode number: st_ino of every pidfd on this pid (G.pidfs_ino_seq, never reused)'),
    E('wait_pidfd', WAITQ_SPEC, 'its lock', 'pidfd pollers (pidfd_poll), woken by do_notify_pidfd'),
    L('poison', 'Atomics', 'POISON_LIVE while allocated, POISON_FREED after free: RCU readers check it'),
    E('rcu', RCU_HEAD_SPEC, 'call_rcu', 'embedded rcu_head (delayed_put_pid)'),
    L('free_next', 'slab lock', 'slab free-list link'),
  ],
} as const satisfies StructSpec;

export const PIDNS_SPEC = {
  name: 'pid_namespace',
  kernel: 'struct pid_namespace (include/linux/pid_namespace.h)',
  doc: 'The idr is modelled as a bitmap (for idr_alloc_cyclic) plus the global pid hash (for idr_find); both are guarded by pidmap_lock, and lookups run under RCU.',
  fields: [
    L('kref', 'Atomics (kref)', 'references'),
    L('level', 'write-once', 'depth (init_pid_ns is 0)'),
    L('parent', 'write-once', 'parent namespace (a reference is held)'),
    L('user_ns', 'write-once', 'owning user namespace (a reference is held)'),
    L('child_reaper', written_under(TASKLIST_W, 'free_pid reads it under pidmap_lock, zap and fork without locks'), 'init of the namespace'),
    L('pid_allocated', written_under(lock('pidmap_lock'), 'copy_process and the zap wait read it plainly'), 'pids allocated, plus PIDNS_ADDING while new pids may be added'),
    L('idr_next', locked([lock('pidmap_lock'), MARKED], [], 'the ns_last_pid sysctl reads and sets the idr cursor without it'), 'idr cursor: the next number idr_alloc_cyclic tries (ns_last_pid + 1)'),
    L('bitmap', 'write-once', 'address of the pid bitmap (pid_max bits)'),
    L('reboot', 'write-once by reboot_pid_ns', 'signal for the init group exit code (SIGHUP/SIGINT)'),
    L('inum', 'write-once', 'ns_common inode number'),
    L('ucounts_uid', 'write-once', 'uid charged for UCOUNT_PID_NAMESPACES'),
    L('pid_max', 'READ_ONCE/WRITE_ONCE (the pid_max sysctl)', 'pid_max of this namespace (6.14+): init_pid_ns starts at the configured pid_max, every other namespace at PID_MAX_LIMIT; alloc_pid bounds each level by its own'),
    L('poison', 'Atomics', 'POISON_LIVE / POISON_FREED (delayed_free_pidns)'),
    E('rcu', RCU_HEAD_SPEC, 'call_rcu', 'embedded rcu_head (delayed_free_pidns)'),
    L('free_next', 'slab lock', 'slab free-list link'),
  ],
} as const satisfies StructSpec;

export const USERNS_SPEC = {
  name: 'user_namespace',
  kernel: 'struct user_namespace (include/linux/user_namespace.h)',
  doc: 'Only what the capability rules need: the hierarchy, the owner and the pid-namespace count limit.',
  fields: [
    L('count', 'Atomics', 'references'),
    L('level', 'write-once', 'depth'),
    L('parent', 'write-once', 'parent user namespace'),
    L('owner', 'write-once', 'euid of the creator'),
    L('group', 'write-once', 'egid of the creator'),
    L('parent_could_setfcap', 'write-once', 'the creator had CAP_SETFCAP (verify_root_map: a self-written map of root needs it)'),
    L('max_pid_ns', 'write-once', 'ucount limit UCOUNT_PID_NAMESPACES'),
    L('nr_pid_ns', locked(lock('ucounts_lock')), 'pid namespaces charged to this user namespace'),
    L('inum', 'write-once', 'ns_common inode number'),
    L('uid_map_count', 'userns_state_mutex; published with smp_wmb (map_write)', 'uid_map: extent length, 0 while the map is unwritten (init_user_ns: the whole 32-bit range); one extent is modelled'),
    L('uid_map_first', 'write-once (map_write)', 'uid_map: first id inside the namespace'),
    L('uid_map_lower', 'write-once (map_write)', 'uid_map: first id in the parent namespace (stored as a kuid: the parent\'s map already applied)'),
    L('gid_map_count', 'userns_state_mutex; published with smp_wmb (map_write)', 'gid_map: extent length, 0 while unwritten'),
    L('gid_map_first', 'write-once (map_write)', 'gid_map: first id inside the namespace'),
    L('gid_map_lower', 'write-once (map_write)', 'gid_map: first id in the parent namespace, as a kgid'),
    L('flags', 'userns_state_mutex', 'USERNS_SETGROUPS_ALLOWED (proc_setgroups_write clears it)'),
    L('poison', 'Atomics', 'POISON_LIVE while allocated, POISON_FREED after free_user_ns'),
    L('free_next', 'slab lock', 'slab free-list link'),
  ],
} as const satisfies StructSpec;

export const NSPROXY_SPEC = {
  name: 'nsproxy',
  kernel: 'struct nsproxy (include/linux/nsproxy.h)',
  doc: 'Shared by tasks (count); never modified once a task uses it: setns/unshare build a new one and switch_task_namespaces swaps it under task_lock. Namespaces other than pid are ns_common objects. Each namespace slot holds a reference.',
  fields: [
    L('count', 'Atomics (refcount_t)', 'references: tasks using it (task->nsproxy) plus the static pin of init_nsproxy'),
    L('pid_ns_for_children', init_only('set before it is published'), 'pid namespace for children (a reference is held)'),
    L('uts_ns', init_only('set before it is published'), 'ns_common (a reference is held)'),
    L('ipc_ns', init_only('set before it is published'), 'ns_common (a reference is held)'),
    L('mnt_ns', init_only('set before it is published'), 'ns_common (a reference is held)'),
    L('net_ns', init_only('set before it is published'), 'ns_common (a reference is held)'),
    L('cgroup_ns', init_only('set before it is published'), 'ns_common (a reference is held)'),
    L('time_ns', init_only('set before it is published'), 'ns_common (a reference is held)'),
    L('time_ns_for_children', init_only('set before it is published'), 'time namespace for children (a reference is held)'),
    L('poison', 'Atomics', 'POISON_LIVE / POISON_FREED (free_nsproxy)'),
    L('free_next', 'slab lock', 'slab free-list link'),
  ],
} as const satisfies StructSpec;

export const NSCOMMON_SPEC = {
  name: 'ns_common',
  kernel: 'struct ns_common for uts/ipc/mnt/net/cgroup/time namespaces',
  doc: 'Generic reference-counted namespaces with an owning user namespace (a reference is held on it). Freed when the count drops to zero (the initial namespaces hold a static pin).',
  fields: [
    L('count', 'Atomics (refcount_t)', 'references: nsproxy slots, open nsfs files, the static pin of an initial namespace'),
    L('type', 'write-once', 'CLONE_NEW* of the namespace'),
    L('user_ns', 'write-once', 'owning user namespace (a reference is held)'),
    L('inum', 'write-once', 'inode number (proc_alloc_inum; the initial namespaces use the kernel PROC_*_INIT_INO values)'),
    L('flags', 'write-once', 'NSC_INIT for the initial namespaces (static, never freed)'),
    L('poison', 'Atomics', 'POISON_LIVE / POISON_FREED'),
    L('free_next', 'slab lock', 'slab free-list link'),
  ],
} as const satisfies StructSpec;

export const SIGNAL_SPEC = {
  name: 'signal_struct',
  kernel: 'struct signal_struct + struct sighand_struct (one record per thread group)',
  doc: 'sighand and signal share a record in the model: CLONE_SIGHAND without CLONE_THREAD is not modelled.',
  fields: [
    L('count', 'Atomics', 'references (sighand->count)'),
    E('siglock', SPINLOCK_SPEC, 'itself', 'sighand->siglock'),
    L('action_ign', locked(SIGLOCK, [RCU_READ, CURRENT]), 'signals whose action[sig-1].sa_handler is SIG_IGN (bit sig-1)'),
    L('action_caught', locked(SIGLOCK, [RCU_READ, CURRENT]), 'signals with a handler (the model records delivery, runs no user code)'),
    L('action_restart', locked(SIGLOCK, [CURRENT]), 'signals whose action has SA_RESTART'),
    L('chld_flags', locked(SIGLOCK, [RCU_READ, CURRENT]), 'action[SIGCHLD-1].sa_flags: SA_NOCLDSTOP, SA_NOCLDWAIT'),
    L('group_stop_count', locked(SIGLOCK), 'threads that still have to stop for the group stop in progress'),
    L('leader', TL, 'signal->leader: the group leads its session (setsid)'),
    L('shared_pending', locked(SIGLOCK), 'shared pending signal mask'),
    L('flags', written_under(SIGLOCK, 'signal->flags & SIGNAL_GROUP_EXIT is tested locklessly'), 'SIGNAL_STOP_STOPPED/CONTINUED, SIGNAL_CLD_STOPPED/CONTINUED, SIGNAL_GROUP_EXIT, SIGNAL_UNKILLABLE'),
    L('group_exit_code', written_under([SIGLOCK, CURRENT], 'zap stores current\'s own; the reaper reads a zombie\'s after the cmpxchg'), 'group exit code; while stopping or stopped, the stop signal'),
    L('stop_seq', written_under(SIGLOCK, 'do_wait\'s lost-report check compares two lockless reads around its look at the child'), 'model only: group stops completed (SIGNAL_STOP_STOPPED set by task_participate_group_stop), so that do_wait can tell one stop from the next (src/kernel/exit.ts stop_report_pending)'),
    L('nr_threads', TL_RCU_CUR, 'threads in the group'),
    L('live', 'Atomics', 'threads not yet exited (signal->live)'),
    L('quick_threads', locked(SIGLOCK), 'threads not yet past synchronize_group_exit (signal->quick_threads)'),
    L('is_child_subreaper', 'current', 'PR_SET_CHILD_SUBREAPER'),
    L('has_child_subreaper', 'write-once at fork', 'an ancestor is a subreaper'),
    E('wait_chldexit', WAITQ_SPEC, 'its lock', 'parent waits here in do_wait'),
    L('chld_events', 'Atomics.add under tasklist_lock (write)', '__wake_up_parent calls on this group (do_wait re-scans only when it moved: see exit.ts)'),
    E('cred_guard_mutex', MUTEX_SPEC, 'itself', 'signal->cred_guard_mutex: held by execve from prepare_bprm_creds to setup_new_exec (today; before a2a8474c3fff to the end of exec, across the PTRACE_EVENT_EXEC stop); ptrace_attach takes it (src/kernel/exec.ts)'),
    L('group_exec_task', written_under([SIGLOCK, lock('tasklist_lock', 'held'), all_of(CURRENT, MARKED)], 'set under the siglock; cleared under read_lock(&tasklist_lock) on failure, or by the exec\'ing thread alone once the others are gone (WRITE_ONCE); exit_notify and __exit_signal read it under tasklist_lock'), 'signal->group_exec_task: the thread in de_thread, 0 otherwise (signal_group_exit is true while set)'),
    L('notify_count', written_under([SIGLOCK, TASKLIST_W, lock('tasklist_lock', 'held'), all_of(CURRENT, MARKED)], 'de_thread sets it under the siglock (> 0: threads to release) or tasklist_lock (-1: the leader must become a zombie); __exit_signal counts down under both'), 'signal->notify_count: > 0 other threads __exit_signal still has to release, -1 de_thread waits for the old leader in exit_notify'),
    L('poison', 'Atomics', 'POISON_LIVE while allocated, POISON_FREED after the last put_signal_struct'),
    L('free_next', 'slab lock', 'slab free-list link'),
  ],
} as const satisfies StructSpec;

export const FILE_SPEC = {
  name: 'file',
  kernel: 'struct file for /proc/PID/ns/* (nsfs) and pidfds',
  doc: 'An open namespace file or pidfd in one task\'s fd table: the record is the fd-table entry and the open file at once (owner task + fd number). fork copies the entries (copy_files: same fd numbers, new references); CLONE_FILES sharing is not modelled.',
  fields: [
    L('count', 'Atomics', 'references: the fd table entry plus fget() users'),
    L('kind', 'write-once', 'FILE_NSFS, FILE_PIDFD or FILE_MEMFD (memfd_create: a file of no namespace or pid)'),
    L('ns_type', 'write-once', 'CLONE_NEW* type (nsfs), 0 for pidfd'),
    L('obj', 'write-once', 'namespace (nsfs) or struct pid (pidfd), a reference is held; for a memfd its inode number (no reference)'),
    L('owner', 'owner task (close clears it)', 'task whose fd table holds it'),
    L('fd', 'write-once', 'fd number in the owner\'s table (lowest free, from 3: 0-2 stand for stdio)'),
    L('flags', 'write-once', 'pidfd: PIDFD_THREAD / PIDFD_NONBLOCK'),
    L('poison', 'Atomics', 'POISON_LIVE / POISON_FREED'),
    L('free_next', 'slab lock', 'slab free-list link'),
  ],
} as const satisfies StructSpec;

export const RCUOBJ_SPEC = {
  name: 'rcu_torture',
  kernel: 'struct rcu_torture (kernel/rcu/rcutorture.c)',
  doc: 'Objects for the RCU torture test: readers check the poison word of what they dereference.',
  fields: [
    E('rcu', RCU_HEAD_SPEC, 'call_rcu', 'embedded rcu_head'),
    L('poison', 'Atomics', 'POISON_LIVE / POISON_FREED'),
    L('pipe', 'writer', 'rtort_pipe_count: grace periods seen since retirement'),
    L('free_next', 'slab lock', 'slab free-list link'),
  ],
} as const satisfies StructSpec;

export const SLAB_SPEC = {
  name: 'kmem_cache',
  kernel: 'struct kmem_cache (one per object type)',
  doc: 'Slab-like allocator: a spinlock-guarded free list threaded through each object free_next field. The write-once descriptor (struct kmem_cache) and the list-locked part (struct kmem_cache_node: list_lock and the lists, which the kernel allocates apart and reaches through s->node[]) are on separate cache lines: every allocation and free on every CPU reads the descriptor, and a refill or flush under the list lock on one CPU must not take that line from the others.',
  fields: [
    L('base', 'write-once', 'address of object 0'),
    L('stride', 'write-once', 'words per object'),
    L('capacity', 'write-once', 'objects in the cache'),
    L('cpu_limit', 'write-once', 'most objects a CPU keeps on its own list (array_cache limit; 0: none, every allocation takes the list lock)'),
    L('next_free_off', 'write-once', 'offset of free_next within the object'),
    L('rcu_head_off', 'write-once', 'offset of the objects\' embedded rcu_head, -1 without one (the free-time check of debug objects)'),
    { ...E('lock', SPINLOCK_SPEC, 'itself', 'list lock (kmem_cache_node.list_lock)'), align: 16 },
    L('free', 'lock', 'first free object'),
    L('in_use', 'lock', 'objects off this list: allocated, or on a CPU\'s own list (kmem_cache_in_use subtracts those)'),
    L('high_water', 'lock', 'largest in_use seen'),
  ],
} as const satisfies StructSpec;

/** Poison values: an RCU reader that finds POISON_FREED has seen a use-after-free. */
export const POISON_LIVE = 0x4c495645;
export const POISON_FREED = 0x6b6b6b6b;

/** Entries of the torture event log. */
export const TORTURE_LOG_ENTRIES = 15;

export const TORTURE_SPEC = {
  name: 'torture',
  kernel: 'locktorture / rcutorture state (kernel/locking/locktorture.c, kernel/rcu/rcutorture.c)',
  doc: 'One instance: the locks under torture, the plain counters they guard and the RCU-protected pointer.',
  fields: [
    E('spin', SPINLOCK_SPEC, 'itself', 'spinlock under torture'),
    E('rw', RWLOCK_SPEC, 'itself', 'rwlock under torture'),
    E('mutex', MUTEX_SPEC, 'itself', 'mutex under torture'),
    E('wq', WAITQ_SPEC, 'its lock', 'wait queue of the sleep/wake tests'),
    L('busted', 'write-once', '1: use the broken lock (locktorture lock_busted)'),
    L('counter', 'spin / mutex (plain read-modify-write)', 'incremented inside every critical section'),
    L('acquisitions', 'Atomics.add', 'critical sections entered'),
    L('rw_readers_in', 'Atomics', 'readers inside the rwlock now'),
    L('rw_writer_in', 'Atomics', 'writers inside the rwlock now'),
    L('rw_reader_acq', 'Atomics.add', 'read acquisitions'),
    L('rw_writer_acq', 'Atomics.add', 'write acquisitions'),
    L('rw_writer_max_wait_us', 'writer', 'longest a writer waited (microseconds)'),
    L('rw_overlap', 'Atomics.add', 'times a reader and a writer were inside together'),
    L('rcu_ptr', 'Atomics (rcu_assign_pointer)', 'the RCU-protected object'),
    L('rcu_reads', 'Atomics.add', 'RCU reader sections'),
    L('rcu_retired', 'Atomics.add', 'objects retired by the writer'),
    L('rcu_freed', 'Atomics.add', 'objects freed by callbacks'),
    L('rcu_alloc_fail', 'Atomics.add', 'writer found the torture cache empty'),
    A('flags', 8, 'Atomics', 'event flags for sleep/wake tests'),
    L('log_len', 'Atomics.add', 'events logged (entries past the log\'s size are dropped)'),
    A('log', TORTURE_LOG_ENTRIES, 'Atomics', 'ordered event log'),
  ],
} as const satisfies StructSpec;

export const FASYNC_SPEC = {
  name: 'fasync_struct',
  kernel: 'struct fasync_struct (include/linux/fs.h) and the fown_struct of its file (f_owner)',
  doc: 'One O_ASYNC registration: kill_fasync walks it (in task or interrupt context) and send_sigio signals the owner. fa_lock is a spinlock before 7a107c0f55a3 and an rwlock after; both words are here and BUG_FASYNC_SPINLOCK picks one. Lives in the program region (scenario data).',
  fields: [
    L('magic', 'write-once', 'FASYNC_MAGIC (0x4601) while the entry is live'),
    E('fa_lock_spin', SPINLOCK_SPEC, 'itself', 'fa->fa_lock as spinlock_t (BUG_FASYNC_SPINLOCK)'),
    E('fa_lock_rw', RWLOCK_SPEC, 'itself', 'fa->fa_lock as rwlock_t (7a107c0f55a3)'),
    L('fa_next', 'fasync_lock (RCU readers)', 'next fasync_struct on the list'),
    L('fa_fd', 'fa_lock', 'fd number reported in the siginfo'),
    L('fa_file', 'fa_lock', '1 while the file is set (0: being removed, kill_fasync skips it)'),
    E('fown_lock', RWLOCK_SPEC, 'itself', 'file->f_owner.lock (rwlock_t)'),
    L('fown_pid', 'fown_lock', 'struct pid of the owner (F_SETOWN), a reference is held'),
    L('fown_pid_type', 'fown_lock', 'PIDTYPE_PID / PIDTYPE_TGID / PIDTYPE_PGID of the owner'),
    L('signum', 'write-once', 'F_SETSIG signal (0: SIGIO)'),
    L('sent', 'Atomics.add', 'signals send_sigio delivered (statistics)'),
    L('owned_next', 'write-once (setup)', 'next registration on G.fasync_owners: the audit counts each fown_pid reference'),
  ],
} as const satisfies StructSpec;

/** KCSAN-style watchpoints published at once (kernel/kcsan: CONFIG_KCSAN_NUM_WATCHPOINTS is 64). */
export const KCSAN_WATCHPOINTS = 8;
/** Guard reports with stacks kept (past this only the violation log records them). */
export const GUARD_REPORTS = 64;
/** Frames of a recorded stack (function ids of the checked build's site table). */
export const GUARD_STACK_FRAMES = 10;
/** Objects a task allocated in its current system call (exempt until it returns: init before publication). */
export const GUARD_FRESH = 8;

export const GUARD_SPEC = {
  name: 'guard',
  kernel: 'the guard checker and the KCSAN watchpoint sampler (kernel/kcsan/core.c in spirit): region header',
  doc: 'The checked build (--check-guards) only: header of the guard region, followed by KCSAN_WATCHPOINTS watchpoints, GUARD_REPORTS reports and GUARD_FRESH words per task slot.',
  fields: [
    L('reports', 'Atomics.add', 'guard reports recorded (the violation log points at them)'),
    L('nwatch', 'Atomics.add', 'watchpoints published now (accesses scan the slots only when non-zero)'),
    L('sample_every', 'write-once per run', 'accesses between two sampled ones on a CPU (0: the sampler is off)'),
    L('delay_us', 'write-once per run', 'how long a sampled access keeps its watchpoint (the widened window)'),
    L('samples', 'Atomics.add', 'watchpoints published so far (statistics)'),
    L('races', 'Atomics.add', 'data races seen (statistics)'),
  ],
} as const satisfies StructSpec;

export const WATCHPOINT_SPEC = {
  name: 'kcsan_watchpoint',
  kernel: 'a KCSAN watchpoint (kernel/kcsan/core.c: watchpoints[]), plus the racing access it caught',
  doc: 'Published by a CPU that sampled a plain access, for the widened window; a CPU whose access hits it fills the racer fields.',
  fields: [
    L('addr', 'Atomics (compareExchange 0 -> address claims the slot)', 'word address watched, 0 when free'),
    L('site', 'the watcher (before addr)', 'site id of the sampled access (id * 4 + write + 2 * marked)'),
    L('cpu', 'the watcher (before addr)', 'watching CPU'),
    L('task', 'the watcher (before addr)', 'task it runs'),
    A('stack', GUARD_STACK_FRAMES, 'the watcher (before addr)', 'function ids of the watcher\'s stack'),
    L('racer_site', 'Atomics (compareExchange 0 -> site)', 'site of the conflicting access, 0 if none'),
    L('racer_cpu', 'the racer (before racer_site)', 'CPU of the conflicting access'),
    L('racer_task', 'the racer (before racer_site)', 'task of the conflicting access'),
    A('racer_stack', GUARD_STACK_FRAMES, 'the racer (before racer_site)', 'function ids of the racer\'s stack'),
  ],
} as const satisfies StructSpec;

export const GUARD_REPORT_SPEC = {
  name: 'guard_report',
  kernel: 'what the kernel prints with a lockdep_assert_held / suspicious RCU usage / KCSAN report',
  doc: 'One guard violation with both stacks where the kernel prints two; the violation log record points at it (c = index + 1).',
  fields: [
    L('kind', 'the reporter (before G.violations)', 'V_GUARD_* / V_KCSAN_RACE'),
    L('site', 'the reporter', 'site id of the access (id * 4 + write + 2 * marked)'),
    L('field', 'the reporter', 'field id (checked-build field table)'),
    L('obj', 'the reporter', 'record the field belongs to'),
    L('other_site', 'the reporter', 'KCSAN: site of the other access'),
    L('other_cpu', 'the reporter', 'KCSAN: CPU of the other access'),
    L('other_task', 'the reporter', 'KCSAN: task of the other access'),
    L('held', 'the reporter', 'locks the CPU held (count)'),
    A('stack', GUARD_STACK_FRAMES, 'the reporter', 'function ids of the reporting access\'s stack'),
    A('other_stack', GUARD_STACK_FRAMES, 'the reporter', 'KCSAN: function ids of the other access\'s stack'),
  ],
} as const satisfies StructSpec;

/** Words of one trace_event record: a power of two, so a ring slot is an index times it. */
export const TRACE_EVENT_SPEC = {
  name: 'trace_event',
  kernel: 'a ring_buffer_event with its trace-event payload (kernel/trace/ring_buffer.c, include/trace/events/*.h)',
  doc: 'One record of a per-CPU trace ring (region trace, CPU.trace_ring): written only by its CPU, oldest overwritten first; the main thread reads the rings once the CPUs are frozen or gone (src/trace/capture.ts). Event types and the meaning of arg/a/b are the TR_* constants of src/tracing/trace.ts.',
  fields: [
    L('ts', 'own CPU', 'trace clock: ticks (TRACE_TICKS_PER_MS) since G.trace_epoch, modulo 2^32'),
    L('info', 'own CPU', 'event type TR_* in bits 0-7, a 24-bit argument in bits 8-31 (syscall nr, lock class and mode, wchan ...)'),
    L('a', 'own CPU', 'first operand (task, lock address, grace period ...)'),
    L('b', 'own CPU', 'second operand'),
  ],
} as const satisfies StructSpec;

export const TASK = offsetsOf(TASK_SPEC.fields);
export const CPU = offsetsOf(CPU_SPEC.fields);
export const G = offsetsOf(GLOBAL_SPEC.fields);
export const PID = offsetsOf(PID_SPEC.fields);
export const PIDNS = offsetsOf(PIDNS_SPEC.fields);
export const USERNS = offsetsOf(USERNS_SPEC.fields);
export const NSPROXY = offsetsOf(NSPROXY_SPEC.fields);
export const NSCOMMON = offsetsOf(NSCOMMON_SPEC.fields);
export const SIG = offsetsOf(SIGNAL_SPEC.fields);
export const FILE = offsetsOf(FILE_SPEC.fields);
export const RCUOBJ = offsetsOf(RCUOBJ_SPEC.fields);
export const SLAB = offsetsOf(SLAB_SPEC.fields);
export const TORTURE = offsetsOf(TORTURE_SPEC.fields);
export const FASYNC = offsetsOf(FASYNC_SPEC.fields);
export const GUARD = offsetsOf(GUARD_SPEC.fields);
export const WATCHPOINT = offsetsOf(WATCHPOINT_SPEC.fields);
export const GUARD_REPORT = offsetsOf(GUARD_REPORT_SPEC.fields);
export const TRACE_EV = offsetsOf(TRACE_EVENT_SPEC.fields);
export const PIDS_CG = offsetsOf(PIDS_CGROUP_SPEC.fields);
export const LIST_DEBUG = offsetsOf(LIST_DEBUG_SPEC.fields);

/** Offsets inside G.rcu (rcu_state). */
export const RCU_GP_SEQ = RCU_STATE.gp_seq;
export const RCU_GP_STARTED = RCU_STATE.gp_started;
export const RCU_GP_REQUESTED = RCU_STATE.gp_requested;
export const RCU_GP_STAMP = RCU_STATE.gp_stamp;
/** Offsets inside G.srcu_exit (srcu_struct, kernel/rcu/srcutree.c). */
export const SRCU_IDX = SRCU.idx;
export const SRCU_LOCK_COUNT0 = SRCU.lock_count;
export const SRCU_GP_OWNER = SRCU.gp_owner;
export const SRCU_GP_SEQ = SRCU.gp_seq;
export const SRCU_GP_STATE = SRCU.gp_state;
export const SRCU_UNLOCK_COUNT0 = SRCU.unlock_count;
/** Offsets inside G.stress (pidrace stress run control, src/stress). */
export const STRESS_OPS_LEFT = STRESS.ops_left;
export const STRESS_STOP = STRESS.stop;
export const STRESS_MIX = STRESS.mix;
export const STRESS_MAX_DEPTH = STRESS.max_depth;
export const STRESS_PROG = STRESS.prog;
export const STRESS_EXEC_PROG = STRESS.exec_prog;
export const STRESS_DAEMON_PROG = STRESS.daemon_prog;
export const STRESS_WAITER_PROG = STRESS.waiter_prog;
export const STRESS_TABLE = STRESS.table;
export const STRESS_DEPTH_SEEN = STRESS.depth_seen;
export const STRESS_NS_SEEN = STRESS.ns_seen;
export const STRESS_MAX_TASKS = STRESS.max_tasks;
export const STRESS_ACTIVE_NS = STRESS.active_ns;
export const STRESS_OPS_DONE = STRESS.ops_done;
export const STRESS_BUSTED = STRESS.busted;
export const STRESS_SEED = STRESS.seed;
export const STRESS_AUDIT_EVERY = STRESS.audit_every;
export const STRESS_TASKS = STRESS.tasks;
export const STRESS_NS_INITS_NEXT = STRESS.ns_inits_next;
export const STRESS_NS_INITS = STRESS.ns_inits;

/**
 * Every record of the schema, in document order: the top-level objects, then the records embedded
 * in them or laid out in a region (test/layout.test.ts checks that every exported *_SPEC is here).
 */
export const ALL_STRUCTS: readonly StructSpec[] = [
  GLOBAL_SPEC, CPU_SPEC, TASK_SPEC, PID_SPEC, PIDNS_SPEC, USERNS_SPEC, NSPROXY_SPEC,
  NSCOMMON_SPEC, SIGNAL_SPEC, FILE_SPEC, RCUOBJ_SPEC, SLAB_SPEC, TORTURE_SPEC, FASYNC_SPEC,
  GUARD_SPEC, WATCHPOINT_SPEC, GUARD_REPORT_SPEC, TRACE_EVENT_SPEC,
  SPINLOCK_SPEC, RWLOCK_SPEC, MUTEX_SPEC, WAITQ_SPEC, RCU_HEAD_SPEC, RCU_CBLIST_SPEC, KMEM_CACHE_CPU_SPEC, RCU_STATE_SPEC,
  SRCU_SPEC, STRESS_SPEC, HELD_LOCK_SPEC, UPID_SPEC, VIOLATION_SPEC, INSN_SPEC, CLONE_ARGS_SPEC,
  TARGET_PID_SET_SPEC, STRESS_SLOT_SPEC, STRESS_COUNTERS_SPEC, PIDS_CGROUP_SPEC, PERCPU_RWSEM_SPEC, LIST_DEBUG_SPEC,
];
