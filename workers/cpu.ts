/**
 * A CPU: one worker thread, started through piscina as one long-running task. It attaches to the
 * shared kernel, waits for the run to start, runs the CPU loop and returns a summary. It imports
 * kernel code only.
 */
import { CPU, G } from '../src/mm/layout.js';
import { attachMemory, cpu_addr, kg, mem, MEM_MAGIC, set_this_cpu, type SharedKernel } from '../src/mm/memory.js';
import { cpu_loop, current } from '../src/sched/core.js';
import { hook_attach, KernelAbort, RUN_CRASHED, RUN_RUNNING, RUN_SETUP, ctl_wait_turn, is_controlled } from '../src/sched/hook.js';
import { kernel_runner } from '../src/kernel/index.js';

export interface CpuTask {
  shared: SharedKernel;
  cpu: number;
  /** Bound on waiting for the run to start. */
  startTimeoutMs?: number;
}

export interface CpuResult {
  cpu: number;
  switches: number;
  syscalls: number;
  aborted?: string;
  error?: { message: string; stack?: string; task: number };
}

export default function cpuMain(task: CpuTask): CpuResult {
  attachMemory(task.shared);
  if (mem[kg + G.magic] !== MEM_MAGIC) throw new Error('worker attached to memory that was not booted');
  set_this_cpu(task.cpu);
  hook_attach();
  const c = cpu_addr(task.cpu);
  Atomics.add(mem, kg + G.cpus_ready, 1);
  Atomics.notify(mem, kg + G.cpus_ready);
  const deadline = Date.now() + (task.startTimeoutMs ?? 30_000);
  while (Atomics.load(mem, kg + G.run_state) === RUN_SETUP) {
    if (Date.now() > deadline) throw new Error(`cpu ${task.cpu}: the run did not start within ${task.startTimeoutMs ?? 30_000} ms`);
    Atomics.wait(mem, kg + G.run_state, RUN_SETUP, 50);
  }
  const res: CpuResult = { cpu: task.cpu, switches: 0, syscalls: 0 };
  try {
    if (Atomics.load(mem, kg + G.run_state) === RUN_RUNNING) {
      if (is_controlled()) ctl_wait_turn(task.cpu);
      cpu_loop(kernel_runner);
    }
  } catch (e) {
    if (e instanceof KernelAbort) res.aborted = e.why;
    else {
      const err = e as Error;
      Atomics.compareExchange(mem, kg + G.crash_cpu, 0, task.cpu + 1);
      Atomics.compareExchange(mem, kg + G.crash_task, 0, current);
      Atomics.compareExchange(mem, kg + G.run_state, RUN_RUNNING, RUN_CRASHED);
      Atomics.notify(mem, kg + G.run_state);
      Atomics.store(mem, kg + G.ctl_turn, -1);
      Atomics.notify(mem, kg + G.ctl_turn);
      res.error = { message: err?.message ?? String(e), stack: err?.stack, task: current };
    }
  } finally {
    mem[c + CPU.online] = -1;
    Atomics.add(mem, kg + G.cpus_exited, 1);
    Atomics.notify(mem, kg + G.cpus_exited);
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
