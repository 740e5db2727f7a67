/**
 * A CPU: one worker thread, started through piscina as one long-running task. It attaches to the
 * shared kernel, waits for the run to start, runs the CPU loop and returns a summary. It imports
 * kernel code and the worker-side half of src/stress (the stress operations, a user of the kernel
 * that runs on the CPUs), never main-side code (test/import_graph.test.ts).
 *
 * Around the kernel's TaskRunner it adds the checks a CPU can make cheaply at a safe point, on
 * every return to user mode: no spinlock, rwlock, mutex or RCU read side is still held
 * (V_LOCK_HELD_USER), and the stress invariants the stress module installs. Between tasks it
 * honours CPU hotplug requests (src/sched/hotplug.ts).
 */
import { CPU, G, TASK } from '../src/mm/layout.js';
import { attachMemory, cpu_addr, kg, mem, MEM_MAGIC, set_this_cpu, this_cpu, this_cpu_id, type SharedKernel } from '../src/mm/memory.js';
import { cpu_loop, current, STEP_DONE, type TaskRunner } from '../src/sched/core.js';
import { hook_attach, KernelAbort, RUN_CRASHED, RUN_RUNNING, RUN_SETUP, ctl_wait_turn, is_controlled, freeze_wait, run_end } from '../src/sched/hook.js';
import { cpu_offline_until_online, hotplug_requested } from '../src/sched/hotplug.js';
import { kernel_runner } from '../src/kernel/index.js';
import { mux_host_loop } from '../src/sched/mux.js';
import { record_violation, V_LOCK_HELD_USER } from '../src/locking/violations.js';
import { user_mode_checks } from '../src/stress/checks.js';
import '../src/stress/stress_syscalls.js'; // the stress mix (SYS_STRESS_OP) and detection test calls, numbers 120..159

export interface CpuTask {
  shared: SharedKernel;
  cpu: number;
  /**
   * Several CPUs on this thread (src/sched/mux.ts): every CPU it hosts, `cpu` first. The task then
   * returns a CpuResult for each.
   */
  cpus?: number[];
  /** With `cpus`: this host thread's number (0 ..). */
  thread?: number;
  /** Bound on waiting for the run to start. */
  startTimeoutMs?: number;
}

export interface CpuResult {
  cpu: number;
  switches: number;
  syscalls: number;
  aborted?: string;
  error?: { message: string; stack?: string; task: number; taskId?: number; syscall?: number };
}

/** exit_to_user_mode checks: what a task may not hold when it leaves the kernel. */
function check_user_return(t: number): void {
  const c = this_cpu;
  if (mem[c + CPU.held_depth] !== 0) record_violation(V_LOCK_HELD_USER, mem[c + CPU.held]!, t, mem[c + CPU.held_depth]!);
  else if (mem[c + CPU.preempt_count] !== 0) record_violation(V_LOCK_HELD_USER, 0, t, -1);
  else if (mem[c + CPU.rcu_nesting] !== 0) record_violation(V_LOCK_HELD_USER, 0, t, -2);
  else if (mem[t + TASK.held_depth] !== 0) record_violation(V_LOCK_HELD_USER, mem[t + TASK.held]!, t, -3);
  user_mode_checks(t);
}

/** The task being stepped: still set when a step throws (run_task has cleared `current` by then). */
let stepping = 0;

const checked_runner: TaskRunner = {
  step(t: number): number {
    stepping = t;
    const r = kernel_runner.step(t);
    stepping = 0;
    if (r === STEP_DONE) check_user_return(t);
    return r;
  },
  task_dead(t: number): void {
    kernel_runner.task_dead(t);
  },
};

export default function cpuMain(task: CpuTask): CpuResult | CpuResult[] {
  attachMemory(task.shared);
  if (mem[kg + G.magic] !== MEM_MAGIC) throw new Error('worker attached to memory that was not booted');
  set_this_cpu(task.cpu);
  hook_attach();
  const hosted = task.cpus && task.cpus.length > 1 ? task.cpus : undefined;
  Atomics.add(mem, kg + G.cpus_ready, hosted ? hosted.length : 1);
  Atomics.notify(mem, kg + G.cpus_ready);
  const deadline = Date.now() + (task.startTimeoutMs ?? 30_000);
  while (Atomics.load(mem, kg + G.run_state) === RUN_SETUP) {
    if (Date.now() > deadline) throw new Error(`cpu ${task.cpu}: the run did not start within ${task.startTimeoutMs ?? 30_000} ms`);
    Atomics.wait(mem, kg + G.run_state, RUN_SETUP, 50);
  }
  if (hosted) return host_main(task.thread ?? 0, hosted);
  const c = cpu_addr(task.cpu);
  const res: CpuResult = { cpu: task.cpu, switches: 0, syscalls: 0 };
  try {
    if (Atomics.load(mem, kg + G.run_state) === RUN_RUNNING) {
      if (is_controlled()) ctl_wait_turn(task.cpu);
      for (;;) {
        cpu_loop(checked_runner);
        if (Atomics.load(mem, kg + G.run_state) !== RUN_RUNNING) break;
        if (!hotplug_requested() || is_controlled()) break;
        if (!cpu_offline_until_online()) break;
      }
      // The run ended while this CPU was between tasks: park while it is frozen too, so that
      // cpu_exited's store of CPU.online lands after the snapshot (as below and in host_main).
      freeze_wait();
    } else {
      // The run ended before this CPU got going (a controlled run can deadlock at its first
      // decisions): park while it is frozen like every other CPU, so that what this one writes on
      // its way out (CPU.online) lands after the snapshot, never in it.
      freeze_wait();
    }
  } catch (e) {
    cpu_failed(e, res);
  } finally {
    cpu_exited(task.cpu);
    // A controlled run hands the turn on when this CPU leaves, so nobody waits for it.
    if (is_controlled() && Atomics.load(mem, kg + G.ctl_turn) === task.cpu) {
      Atomics.store(mem, kg + G.ctl_turn, -1);
      Atomics.notify(mem, kg + G.ctl_turn);
    }
  }
  res.switches = mem[c + CPU.switches]!;
  res.syscalls = mem[c + CPU.syscalls]!;
  return res;
}

/**
 * What a CPU's loop threw (this_cpu is that CPU): a KernelAbort (the run is being torn down), or
 * a crash, which ends the run frozen so that the other CPUs park where they are and the report
 * shows what they held and waited for.
 */
function cpu_failed(e: unknown, res: CpuResult): void {
  if (e instanceof KernelAbort) {
    res.aborted = e.why;
    return;
  }
  const err = e as Error;
  const t = current || stepping;
  Atomics.compareExchange(mem, kg + G.crash_cpu, 0, this_cpu_id + 1);
  Atomics.compareExchange(mem, kg + G.crash_task, 0, t);
  run_end(RUN_CRASHED, true);
  res.error = {
    message: err?.message ?? String(e), stack: err?.stack, task: t,
    taskId: t ? mem[t + TASK.id] : undefined, syscall: t ? mem[t + TASK.ucall] : undefined,
  };
  freeze_wait();
}

/** The CPU left for good: the supervisor counts it out (G.cpus_exited). */
function cpu_exited(cpu: number): void {
  mem[cpu_addr(cpu) + CPU.online] = -1;
  Atomics.add(mem, kg + G.cpus_exited, 1);
  Atomics.notify(mem, kg + G.cpus_exited);
}

/**
 * Several CPUs per host thread (src/sched/mux.ts; free-running only): this thread runs turns of
 * any CPU; it reports its home CPUs `cpus` (and a CPU of another home it crashed on).
 */
function host_main(thread: number, cpus: number[]): CpuResult[] {
  const res = cpus.map((cpu): CpuResult => ({ cpu, switches: 0, syscalls: 0 }));
  try {
    if (Atomics.load(mem, kg + G.run_state) === RUN_RUNNING) mux_host_loop(checked_runner, thread, cpus);
    // The run ended (or ended before it began): park while the main thread holds the world still,
    // as cpuMain does, before cpu_exited below stores CPU.online = -1 for every home CPU. Another
    // thread may be running one of them (any thread runs any CPU), frozen mid-turn in a task: a
    // store that landed in the snapshot made the stall detector skip that CPU as gone, so a
    // grace period it held up read as a hang with no stall (session 15, entry 10's free runs).
    freeze_wait();
  } catch (e) {
    let r = res.find((x) => x.cpu === this_cpu_id);
    if (!r) res.push(r = { cpu: this_cpu_id, switches: 0, syscalls: 0 });
    cpu_failed(e, r);
  } finally {
    for (const cpu of cpus) cpu_exited(cpu);
  }
  for (const r of res) {
    r.switches = mem[cpu_addr(r.cpu) + CPU.switches]!;
    r.syscalls = mem[cpu_addr(r.cpu) + CPU.syscalls]!;
  }
  return res;
}
