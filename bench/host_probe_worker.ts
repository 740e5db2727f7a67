/**
 * Worker side of bench/host_probe.ts: what the host gives two threads, with no kernel model in
 * them. Imports nothing of the project (a worker never imports main-side code, and the probe must
 * not measure the model).
 *
 * Roles (workerData.role):
 * - 'own-line': lock and unlock a test-and-set lock on this thread's own 64-byte line (no line is
 *   shared with another thread) for `ms` milliseconds; the op count is the thread's work. Two of
 *   these against one is the host's scaling of independent work: 2x on two free cores.
 * - 'ping' / 'pong': hand a token back and forth through one shared word by spinning (no futex),
 *   for `ms` milliseconds; the round trips per second give the cross-thread hand-off latency, the
 *   price of a lock word moving between the two model CPUs' cores.
 * Every loop checks the clock every CHUNK iterations, so each is bounded by `ms`; the spin of a
 * ping-pong also gives up at the deadline (a partner the host never runs cannot hang it).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { GO_WORD, LINE_WORDS, OWN_BASE, PP_WORD, READY_WORD } from './host_probe_layout.js';

/** Iterations between two looks at the clock. */
const CHUNK = 1024;

interface ProbeTask {
  sab: SharedArrayBuffer;
  role: 'own-line' | 'ping' | 'pong';
  idx: number;
  ms: number;
}

const { sab, role, idx, ms } = workerData as ProbeTask;
const m = new Int32Array(sab);

Atomics.add(m, READY_WORD, 1);
// Bounded start wait: the main thread stores GO once every worker is counted.
Atomics.wait(m, GO_WORD, 0, 10_000);

let ops = 0;
const t0 = performance.now();
const deadline = t0 + ms;
if (role === 'own-line') {
  const lock = OWN_BASE + idx * LINE_WORDS;
  const counter = lock + 1; // the same line: the critical section's data
  while (performance.now() < deadline) {
    for (let k = 0; k < CHUNK; k++) {
      while (Atomics.compareExchange(m, lock, 0, 1) !== 0) { /* own line: never contended */ }
      m[counter] = m[counter]! + 1;
      Atomics.store(m, lock, 0);
    }
    ops += CHUNK;
  }
} else {
  // ping waits for 0 and stores 1; pong waits for 1 and stores 0. One round trip = one ping op.
  const mine = role === 'ping' ? 0 : 1;
  let done = false;
  while (!done) {
    for (let k = 0; k < CHUNK; k++) {
      let spins = 0;
      while (Atomics.load(m, PP_WORD) !== mine) {
        if (++spins === CHUNK) {
          spins = 0;
          if (performance.now() >= deadline) { done = true; break; }
        }
      }
      if (done) break;
      Atomics.store(m, PP_WORD, 1 - mine);
      ops++;
    }
    if (performance.now() >= deadline) done = true;
  }
}
parentPort!.postMessage({ ops, ms: performance.now() - t0 });
