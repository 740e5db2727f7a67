/**
 * Worker side of bench/alternatives.ts: one kernel operation per message, the design a user might
 * try instead of running the kernel in shared memory. It attaches to the benchmark's machine as its
 * only CPU and, per request, takes and releases a kernel spinlock in shared memory (the cheapest
 * real kernel operation, so what is measured is the cost of getting the request there and back).
 *
 * Used both as a piscina task module (default export) and as a raw worker_threads Worker answering
 * postMessage (when started with workerData.altRaw). Imports kernel code only.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { attachMemory, set_this_cpu, type SharedKernel } from '../src/mm/memory.js';
import { hook_attach } from '../src/sched/hook.js';
import { spin_lock, spin_unlock } from '../src/locking/spinlock.js';

let attachedTo: SharedArrayBuffer | undefined;

function attach(shared: SharedKernel): void {
  if (attachedTo === shared.sab) return;
  attachMemory(shared);
  set_this_cpu(0);
  hook_attach(true);
  attachedTo = shared.sab;
}

export interface AltTask {
  shared: SharedKernel;
  lock: number;
  n?: number;
}

/** One kernel operation (or `n`), in shared memory. */
export default function altTask(t: AltTask): number {
  attach(t.shared);
  const n = t.n ?? 1;
  for (let i = 0; i < n; i++) {
    spin_lock(t.lock);
    spin_unlock(t.lock);
  }
  return n;
}

const wd = workerData as { altRaw?: boolean; shared: SharedKernel; lock: number } | undefined;
if (wd?.altRaw && parentPort) {
  attach(wd.shared);
  const port = parentPort;
  const lock = wd.lock;
  port.on('message', (seq: number) => {
    if (seq < 0) { port.close(); return; }
    spin_lock(lock);
    spin_unlock(lock);
    port.postMessage(seq);
  });
}
