/**
 * RCU (kernel/rcu/tree.c in miniature): per-CPU read-side nesting, quiescent states, grace
 * periods, call_rcu callbacks and synchronize_rcu.
 *
 * A grace period g starts by bumping rcu_state.started to g. It completes when every online CPU
 * has either reported a quiescent state for g (its rcu_qs_gp reached g: it passed a context
 * switch, a return to user mode, or idle with no read-side section open) or is idle now (an
 * extended quiescent state: an idle CPU has no reader open). Readers never wait; only the
 * grace-period machinery reads other CPUs' state. call_rcu callbacks run on the CPU that queued
 * them once the grace period they were queued for is complete, so an object retired with call_rcu
 * is never freed under a reader that began before the retirement.
 *
 * Windows between a load and what depends on it (checked for the SRCU index-flip kind of bug;
 * test/rcu_windows.test.ts puts a schedule in each one that has a scheduling hook):
 * - rcu_note_context_switch loads RCU_GP_STARTED and then reports a quiescent state for it. No
 *   hook lies between, and the nesting test before them reads this CPU's own word: no reader can
 *   open on this CPU in between. A grace period that starts after the load waits for the next
 *   quiescent state.
 * - rcu_read_lock's hook comes before the nesting increment, and a reader loads the protected
 *   pointer only after it. Besides, a grace period cannot end while this CPU is inside a step of
 *   a task at all (quiescent states are reported between steps): the hook window is closed twice.
 * - synchronize_rcu (and the rcu-tasks holdout poll) asks for a grace period, then queues itself
 *   (prepare_to_wait: hooks) and then tests RCU_GP_SEQ: a grace period that ended in between is
 *   seen by the test. It cannot even end there: the caller's CPU has not passed a quiescent state
 *   for a grace period that started after its step began (this_cpu_blocks_gp).
 * - rcu_gp_request, when a grace period is running, asks for the next one (the running one may
 *   have begun before the caller's update): REQUESTED vs the completer's load of it below.
 * - idle entry/exit against a scan of CPU.idle, and hotplug's quiescent-state report on the way
 *   up (sched/hotplug.ts): store-buffering pairs, commented where they are.
 */
import { CPU, G, RCU_CBLIST, RCU_GP_REQUESTED, RCU_GP_SEQ, RCU_GP_STAMP, RCU_GP_STARTED, RH_FUNC, RH_GP, RH_NEXT, RH_OBJ, TASK, POISON_FREED } from '../mm/layout.js';
import { cpu_addr, kg, mem, regions, this_cpu, this_cpu_id, type Region } from '../mm/memory.js';
import { record_violation, V_INVARIANT, V_RCU_USE_AFTER_FREE } from '../locking/violations.js';
import { up_boot } from '../locking/lock_flags.js';
import { might_sleep } from '../locking/lockdep.js';
import { sched_hook, set_idle_has_work, stall_clock } from '../sched/hook.js';
import { current, kick_cpu, SLEEP, TASK_UNINTERRUPTIBLE, WCHAN_RCU_GP } from '../sched/core.js';
import { finish_wait, prepare_to_wait, waitqueue_active, wake_up_arg_le } from '../sched/wait.js';
import { tracing, trace_event_noclock, TR_GP_END, TR_GP_START, TRF_RCU } from '../tracing/trace.js';

/** rcu_state word: highest grace period somebody asked for (the next one starts when it is higher). */

const rcu = (): number => kg + G.rcu;

// The grace-period words are shared by every CPU and updated with Atomics; on a machine with one
// CPU (G.ncpus === 1) one thread runs the kernel, and the same state machine runs on plain reads
// and writes (as the lock words do there: see spinlock.ts).
// Each wrapper is one sequentially consistent Atomics operation with several CPUs; the pairing of
// each use is commented at the call. `m` is always this thread's view `mem` (the callers' one load
// of the live binding); the atomic operations name `mem` itself, which the build routes to the
// machine's WebAssembly atomics (src/mm/wasm_atomics.ts).
const up = up_boot;
const ld = (m: Int32Array, i: number): number => (up(m) ? m[i]! : Atomics.load(mem, i));
function st(m: Int32Array, i: number, v: number): void {
  if (up(m)) m[i] = v;
  else Atomics.store(mem, i, v);
}
function cas(m: Int32Array, i: number, expect: number, v: number): number {
  if (!up(m)) return Atomics.compareExchange(mem, i, expect, v);
  const old = m[i]!;
  if (old === expect) m[i] = v;
  return old;
}

/**
 * rcu_read_lock() or rcu_read_unlock() on a CPU that grace periods take for idle (an extended
 * quiescent state): RCU_LOCKDEP_WARN(!rcu_is_watching(), "rcu_read_lock() used illegally while
 * idle") in include/linux/rcupdate.h (read with find_string, session 9). A = CPU, b = 1 at lock,
 * 2 at unlock. The reader is not protected: a grace period that skips this CPU may free what it
 * reads.
 */
export const INV_RCU_NOT_WATCHING = 0x5201;

/**
 * call_rcu of an rcu_head that is already queued (violation b = head, c = the new callback id): kernel/rcu/
 * tree.c's __call_rcu_common under CONFIG_DEBUG_OBJECTS_RCU_HEAD, `if (debug_rcu_head_queue(head))
 * { /* Probable double call_rcu(), so leak the callback. *\/ ... WARN_ONCE(1, "__call_rcu(): Leaked
 * duplicate callback\n"); return; }` (read with find_string "Leaked duplicate callback", session
 * 10; srcutree.c's __call_srcu has the same test). Queued twice, the head would make the CPU's
 * list a cycle or lose the callbacks between; the model leaks it, as the kernel does.
 */
export const INV_RCU_HEAD_QUEUED_TWICE = 0x5202;

/** rcu_is_watching(): this CPU is not in an extended quiescent state (its own word: plain). */
function rcu_is_watching(): boolean {
  return mem[this_cpu + CPU.idle] !== 1;
}

export function rcu_read_lock(site = 0): void {
  sched_hook(site);
  // Plain: only this CPU reads or writes its nesting (the grace-period machinery reads quiescent
  // states, never this word); the scans' reads of it are for reports. No barrier is needed, as in
  // a non-preemptible kernel's rcu_read_lock: the CPU reports no quiescent state inside.
  mem[this_cpu + CPU.rcu_nesting]!++;
  if (!rcu_is_watching()) record_violation(V_INVARIANT, INV_RCU_NOT_WATCHING, this_cpu_id, 1);
}

export function rcu_read_unlock(): void {
  if (!rcu_is_watching()) record_violation(V_INVARIANT, INV_RCU_NOT_WATCHING, this_cpu_id, 2);
  // Plain, this CPU's own word (see rcu_read_lock): the section's accesses are ordered before the
  // grace period by the Atomics.store of rcu_qs_gp at the next quiescent state.
  mem[this_cpu + CPU.rcu_nesting]!--;
  sched_hook(0);
}

/** A quiescent state on this CPU (context switch, user mode): report it for the running GP. */
export function rcu_note_context_switch(): void {
  const c = this_cpu;
  const m = mem;
  if (m[c + CPU.rcu_nesting] !== 0) return;
  // A plain peek (this runs at every return to user mode): a stale value only delays the report
  // to the next quiescent state; the report itself is the Atomics.store below.
  const s = m[kg + G.rcu + RCU_GP_STARTED]!;
  if (m[c + CPU.rcu_qs_gp]! < s) {
    m[c + CPU.qs_stamp] = stall_clock(); // the stall detector's clock (plain, this CPU's own)
    // The report: RELEASE of every read-side section this CPU ended before it (they are all
    // before this store in program order). Pairs with the ld of rcu_qs_gp in rcu_try_complete_gp:
    // a scanner that sees s here completes s only after those sections. The value stored depends
    // on the plain load of STARTED above, so it cannot be seen before that load was made.
    st(m, c + CPU.rcu_qs_gp, s);
    rcu_try_complete_gp();
  }
}

export function rcu_idle_enter(): void {
  rcu_note_context_switch();
  // Extended quiescent state: no reader is open from here to rcu_idle_exit. Pairs with the ld of
  // CPU.idle in rcu_try_complete_gp (a scanner that sees 1 skips us) and with activate_task's and
  // rcu_gp_done's loads of it (wake-ups of an idle CPU: store-buffering with their enqueue or
  // CAS of RCU_GP_SEQ against our later looks at the runqueues and callbacks in cpu_idle).
  st(mem, this_cpu + CPU.idle, 1);
  rcu_try_complete_gp();
}

export function rcu_idle_exit(): void {
  // Leave the extended quiescent state before any reader opens. Store-buffering with an updater:
  // we store idle = 0 and then (in a reader) load a protected pointer; the updater removes the
  // object, starts a grace period and a scanner loads our idle word. All sequentially
  // consistent, so either the scanner sees 0 (and waits for our next quiescent state) or our
  // reader loads the pointer after the removal (and cannot reach the retired object).
  st(mem, this_cpu + CPU.idle, 0);
}

/**
 * ct_irq_enter (kernel/context_tracking.c, read with find_string: "ct_irq_exit - inform RCU that
 * current CPU is exiting irq towards idle"): an interrupt taken in an extended quiescent state
 * makes RCU watch this CPU for the handler's duration, so the handler's readers are protected.
 * Returns whether the CPU was idle (rcu_irq_exit's argument). Leaving the quiescent state is
 * rcu_idle_exit's store, with its pairing.
 */
export function rcu_irq_enter(): boolean {
  if (rcu_is_watching()) return false;
  rcu_idle_exit();
  return true;
}

/**
 * ct_irq_exit: back to the extended quiescent state the interrupt came from. The store of
 * idle = 1 comes after the handler's readers (RELEASE, as rcu_idle_enter's). A scan that saw this
 * CPU watching during the handler gave up on the running grace period, and the interrupted idle
 * path may have done its own scan before the interrupt: look again here, or the grace period
 * would wait for some other CPU's next idle entry (the kernel's grace-period kthread rescans on
 * its own, rcu_gp_fqs; the model has no such thread).
 */
export function rcu_irq_exit(was_idle: boolean): void {
  if (!was_idle) return;
  st(mem, this_cpu + CPU.idle, 1);
  rcu_try_complete_gp();
}

/**
 * Ask for a grace period that starts after now; returns its number. If one is already running it
 * began before now, so the caller needs the next one (recorded in RCU_GP_REQUESTED).
 */
export function rcu_gp_request(): number {
  const r = rcu();
  const m = mem;
  for (;;) {
    // Both loads come after the caller's update (the removal of what it retires): a grace period
    // that starts from the values they see starts after that update.
    const s = ld(m, r + RCU_GP_STARTED);
    const done = ld(m, r + RCU_GP_SEQ);
    if (s === done) {
      // Start s + 1 (one starter wins; the loser loops and finds it running).
      if (cas(m, r + RCU_GP_STARTED, s, s + 1) === s) {
        st(m, r + RCU_GP_STAMP, stall_clock()); // for the RCU CPU stall detector only
        if (tracing) trace_event_noclock(TR_GP_START, TRF_RCU, s + 1, 0);
        if (!this_cpu_blocks_gp(s + 1)) rcu_try_complete_gp();
        return s + 1;
      }
      continue;
    }
    const want = s + 1;
    for (;;) {
      const q = ld(m, r + RCU_GP_REQUESTED);
      if (q >= want || cas(m, r + RCU_GP_REQUESTED, q, want) === q) break;
    }
    // The running GP may have completed meanwhile without seeing our request: start ours then.
    // Store-buffering with rcu_try_complete_gp: we publish REQUESTED, then load RCU_GP_SEQ; the
    // completer CASes RCU_GP_SEQ, then loads REQUESTED. Either it sees our request and starts
    // s + 1, or we see s completed here and start it (the CAS lets only one of us do it).
    if (ld(m, r + RCU_GP_SEQ) === s) {
      if (cas(m, r + RCU_GP_STARTED, s, s + 1) === s) {
        st(m, r + RCU_GP_STAMP, stall_clock());
        if (tracing) trace_event_noclock(TR_GP_START, TRF_RCU, s + 1, 0);
      }
      if (!this_cpu_blocks_gp(s + 1)) rcu_try_complete_gp();
    }
    return want;
  }
}

/**
 * Would this CPU alone stop grace period g from completing now (online, not idle, no quiescent
 * state reported for g)? Then rcu_try_complete_gp would find that and do nothing: the caller (a
 * task in the kernel, which cannot have passed a quiescent state for a GP it just started) skips
 * the scan of every CPU. Only this CPU writes its own words, so plain reads are exact.
 */
function this_cpu_blocks_gp(g: number): boolean {
  const c = this_cpu;
  const m = mem;
  return m[c + CPU.online] === 1 && m[c + CPU.idle] !== 1 && m[c + CPU.rcu_qs_gp]! < g;
}

/** Complete the running grace period if every CPU has passed a quiescent state for it. */
export function rcu_try_complete_gp(): void {
  const r = rcu();
  const m = mem;
  const n = m[kg + G.ncpus]!;
  const base = regions.cpus.base;
  const stride = regions.cpus.stride;
  for (let guard = 0; guard < 4; guard++) {
    const s = ld(m, r + RCU_GP_STARTED);
    const done = ld(m, r + RCU_GP_SEQ);
    if (s === done) return;
    for (let i = 0, c = base; i < n; i++, c += stride) {
      // online is a plain read: it changes only at hotplug (free-running). A CPU going down is
      // idle first (rcu_idle_enter). A CPU coming up stores online = 1 with Atomics before its
      // first reader, and this load comes after our Atomics load of RCU_GP_STARTED: on the hosts
      // we run (x86-64, arm64 V8, where those loads are acquire loads) it cannot be satisfied
      // earlier and see a stale 0; the JS memory model alone does not promise that.
      if (m[c + CPU.online] !== 1) continue; // offline CPUs run no readers
      // This CPU's own words are exact with plain reads (only this CPU writes its idle and
      // rcu_qs_gp: rcu_idle_enter/exit, the report, hotplug's report on the way up).
      const own = c === this_cpu;
      if ((own ? m[c + CPU.idle] : ld(m, c + CPU.idle)) === 1) continue; // pairs with rcu_idle_enter / rcu_idle_exit
      if ((own ? m[c + CPU.rcu_qs_gp]! : ld(m, c + CPU.rcu_qs_gp)) < s) return; // ACQUIRE: pairs with the report's store
    }
    // Complete s. The CAS orders the loads of the scan before it, and it is what rcu_do_batch,
    // rcu_cbs_ready and synchronize_rcu load (RCU_GP_SEQ): seeing s there means every CPU's
    // read-side sections that began before s started had ended (the chain report -> scan -> CAS).
    // RCU_GP_SEQ is also the count of grace periods completed (it starts at 0 and only this CAS
    // moves it, by one): the statistics read it, no counter is added here.
    if (cas(m, r + RCU_GP_SEQ, s - 1, s) !== s - 1) return;
    if (tracing) trace_event_noclock(TR_GP_END, TRF_RCU, s, 0);
    // Pairs with rcu_gp_request's CAS of REQUESTED + load of RCU_GP_SEQ (store-buffering, above).
    if (ld(m, r + RCU_GP_REQUESTED) > s && cas(m, r + RCU_GP_STARTED, s, s + 1) === s) {
      st(m, r + RCU_GP_STAMP, stall_clock()); // the stall detector's clock: orders nothing
      if (tracing) trace_event_noclock(TR_GP_START, TRF_RCU, s + 1, 0);
    }
    rcu_gp_done(s);
  }
}

function rcu_gp_done(g: number): void {
  // The waiters whose target grace period is <= g (synchronize_rcu, rcu-tasks). The lockless look
  // is safe here: the CAS of RCU_GP_SEQ that completed g came first (waitqueue_active).
  if (waitqueue_active(kg + G.rcu_gp_wq)) wake_up_arg_le(kg + G.rcu_gp_wq, g);
  const m = mem;
  const n = m[kg + G.ncpus]!;
  // Only other CPUs are kicked (with none there is nothing to look at). Each CPU's callback count
  // is its own word (RCU_CBLIST.len), read below after that CPU's idle word: no count shared by
  // every CPU is updated per callback (a cache line both CPUs of a fork cycle wrote 4 times a cycle).
  if (n > 1) {
    // Wake the idle CPUs whose callbacks can now run. A running CPU (this one, or one that is not
    // idle) runs rcu_do_batch at its next pass through the CPU loop, and a CPU on its way to idle
    // looks at its callbacks after publishing CPU.idle (cpu_idle): the Atomics.load of idle here
    // and that store are both sequentially consistent, so one of the two sees the other.
    for (let i = 0; i < n; i++) {
      if (i === this_cpu_id) continue;
      const c = cpu_addr(i);
      // idle first: seeing its store also shows what that CPU queued before it went idle. A CPU
      // waiting for a run token (src/sched/run_token.ts) is idle too, but is not parked in the idle
      // loop: it runs its callbacks in cpu_loop once it has a token, so a kick would only cost a
      // futex wake and a remote cache line per grace period.
      if (Atomics.load(m, c + CPU.idle) === 1 && m[c + CPU.tok_wait] === 0 && m[c + CPU.rcu_cb + RCU_CBLIST.len]! > 0) kick_cpu(i);
    }
  }
}

/** This CPU has callbacks whose grace period is complete (the idle loop must not park). */
export function rcu_cbs_ready(): boolean {
  const m = mem;
  const h = m[this_cpu + CPU.rcu_cb + RCU_CBLIST.head]!; // this CPU's own list: plain
  // Pairs with the CAS of RCU_GP_SEQ that completes a grace period (after rcu_idle_enter stored
  // CPU.idle: rcu_gp_done kicks only CPUs it sees idle, so the idle loop looks here itself).
  return h !== 0 && m[h + RH_GP]! <= ld(m, rcu() + RCU_GP_SEQ);
}

// ---- call_rcu ---------------------------------------------------------------------------------

export type RcuCallback = (obj: number) => void;
const callbacks: RcuCallback[] = [];

/** Register a callback function under a fixed id (RCB_*), identical on every thread. */
export function register_rcu_callback(id: number, fn: RcuCallback): void {
  callbacks[id] = fn;
}

/** call_rcu(head, func): run func(obj) after a full grace period. */
export function call_rcu(head: number, func: number, obj: number): void {
  const c = this_cpu;
  // The rcu_head and this CPU's list are plain: only this CPU walks them (rcu_do_batch); other
  // CPUs read only the count RCU_CBLIST.len (rcu_gp_done, after their load of our CPU.idle) and, in
  // controlled mode, the head (idle_has_work, after the turn hand-off that orders everything).
  // debug_rcu_head_queue: a queued head has a callback id (rcu_do_batch clears it when it runs
  // the callback, debug_rcu_head_unqueue); slab allocations are zeroed.
  if (mem[head + RH_FUNC] !== 0) {
    record_violation(V_INVARIANT, INV_RCU_HEAD_QUEUED_TWICE, head, func);
    return;
  }
  mem[head + RH_FUNC] = func;
  mem[head + RH_OBJ] = obj;
  mem[head + RH_NEXT] = 0;
  mem[head + RH_GP] = rcu_gp_request();
  const cbs = c + CPU.rcu_cb;
  const last = mem[cbs + RCU_CBLIST.tail]!;
  if (last) mem[last + RH_NEXT] = head;
  else mem[cbs + RCU_CBLIST.head] = head;
  mem[cbs + RCU_CBLIST.tail] = head;
  mem[cbs + RCU_CBLIST.len]!++;
}

/** rcu_do_batch: run this CPU's callbacks whose grace period has completed. */
export function rcu_do_batch(): number {
  const c = this_cpu;
  let ran = 0;
  const cbs = c + CPU.rcu_cb;
  if (mem[cbs + RCU_CBLIST.head]! === 0) return 0;
  // ACQUIRE of the grace period: pairs with the CAS of RCU_GP_SEQ in rcu_try_complete_gp, so a
  // callback that frees an object runs after every reader that could still hold it has ended.
  const done = ld(mem, rcu() + RCU_GP_SEQ);
  for (;;) {
    const h = mem[cbs + RCU_CBLIST.head]!;
    if (!h || mem[h + RH_GP]! > done) break;
    const next = mem[h + RH_NEXT]!;
    mem[cbs + RCU_CBLIST.head] = next;
    if (!next) mem[cbs + RCU_CBLIST.tail] = 0;
    mem[cbs + RCU_CBLIST.len]!--;
    const fn = callbacks[mem[h + RH_FUNC]!];
    if (!fn) throw new Error(`rcu callback ${mem[h + RH_FUNC]} not registered`);
    mem[h + RH_FUNC] = 0; // debug_rcu_head_unqueue: the head may be queued again (or freed) now
    fn(mem[h + RH_OBJ]!);
    ran++;
  }
  return ran;
}

set_idle_has_work((id: number) => {
  // Controlled mode (cpu_enabled): another CPU's list read plainly, ordered by the turn hand-off;
  // RCU_GP_SEQ pairs with the completing CAS as in rcu_cbs_ready.
  const c = cpu_addr(id);
  const h = mem[c + CPU.rcu_cb + RCU_CBLIST.head]!;
  return h !== 0 && mem[h + RH_GP]! <= Atomics.load(mem, rcu() + RCU_GP_SEQ);
});

/**
 * Callbacks queued on every CPU and not yet run, from the CPUs' own counts (RCU_CBLIST.len) in
 * the view `m` (the main thread's reports and leak checks pass theirs). Plain reads: exact when
 * the CPUs are stopped or this thread is the only one running the kernel, a snapshot otherwise;
 * it orders nothing.
 */
export function rcu_callbacks_queued(m: Int32Array, cpus: Region): number {
  let n = 0;
  for (let i = 0, c = cpus.base; i < cpus.count; i++, c += cpus.stride) n += m[c + CPU.rcu_cb + RCU_CBLIST.len]!;
  return n;
}

/** Callbacks not yet run on this machine (leak checks, the in-process drain loops). */
export function rcu_callbacks_pending(): number {
  return rcu_callbacks_queued(mem, regions.cpus);
}

/** Grace periods completed since boot (statistics): RCU_GP_SEQ, which counts them. */
export function rcu_gps_completed(m: Int32Array, g: number): number {
  return m[g + G.rcu + RCU_GP_SEQ]!;
}

/** RCU_GP_SEQ: the ACQUIRE of a grace period's end (pairs with rcu_try_complete_gp's CAS). */
export function rcu_completed(): number {
  return Atomics.load(mem, rcu() + RCU_GP_SEQ);
}

/**
 * synchronize_rcu from task context: 0 when a full grace period has elapsed since the first call,
 * SLEEP while waiting (the restarted call finds its target in wq_arg).
 */
export function synchronize_rcu(): number {
  const t = current;
  might_sleep();
  const target = mem[t + TASK.wait_chan] === WCHAN_RCU_GP ? mem[t + TASK.wq_arg]! : rcu_gp_request();
  const wq = kg + G.rcu_gp_wq;
  // Queued (prepare_to_wait publishes WQ_FIRST with Atomics) before the test of RCU_GP_SEQ:
  // pairs with rcu_gp_done, which CASes RCU_GP_SEQ before its waitqueue_active look. Either we
  // see the grace period done, or its look sees us queued and wakes us.
  prepare_to_wait(wq, TASK_UNINTERRUPTIBLE, WCHAN_RCU_GP, 0, target);
  if (rcu_completed() >= target) {
    finish_wait(wq);
    return 0;
  }
  return SLEEP;
}

/**
 * rcu_dereference with the model's use-after-free check: the object's poison word must still
 * say live. Any reader that finds POISON_FREED saw memory freed under it.
 */
export function rcu_dereference_check(obj: number, poisonOff: number): number {
  // Pairs with kmem_cache_free's store of POISON_FREED: a free that a grace period did not order
  // after this reader is seen here (the model's use-after-free detector).
  if (obj !== 0 && Atomics.load(mem, obj + poisonOff) === POISON_FREED) {
    record_violation(V_RCU_USE_AFTER_FREE, obj, mem[this_cpu + CPU.rcu_nesting]!, rcu_completed());
  }
  return obj;
}
