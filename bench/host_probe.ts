/**
 * What the host gives two threads right now (issue 15: "2 CPUs at least 1.3 times 1 CPU" measures
 * the model only if the host has a second core to give). Run beside each repetition of the fork
 * rate, so its figures describe the same minutes as the model's:
 * - scale: two threads each locking and unlocking a lock on its own cache line, against one thread
 *   alone (ops per second summed): about 2x on two free cores; 1x when the host runs the two
 *   threads on one core's worth of time (another process on the other core, or SMT siblings
 *   sharing one core's units);
 * - round trip: two threads handing a word back and forth by spinning, the latency with which a
 *   lock word moves from one model CPU's core to the other's (sub-microsecond when both threads run
 *   at once; tens of microseconds to milliseconds when the host time-slices them on one core).
 * Nothing of the model runs here (bench/host_probe_worker.ts imports none of it).
 *
 *   node dist/bench/host_probe.js [--ms 150] [--reps 3]
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { projectRoot } from '../src/machine.js';
import { GO_WORD, LINE_WORDS, OWN_BASE, READY_WORD } from './host_probe_layout.js';
import { summarize, type Summary } from './util.js';

export interface HostProbeSample {
  /** Own-line lock+unlock operations per second, one thread alone. */
  oneThreadOpsPerSec: number;
  /** The same, two threads at once, summed. */
  twoThreadsOpsPerSec: number;
  /** twoThreadsOpsPerSec / oneThreadOpsPerSec: 2 on two free cores. */
  scale: number;
  /** Spinning hand-off round trip between two threads, microseconds. */
  roundTripUs: number;
}

export interface HostProbeSummary {
  samples: HostProbeSample[];
  scale: Summary;
  roundTripUs: Summary;
}

/** Upper bound on one probe's workers (start-up, the window, the answer): never hangs the bench. */
const PROBE_TIMEOUT_MS = 20_000;

function workerFile(): string {
  return join(projectRoot(), 'dist', 'bench', 'host_probe_worker.js');
}

async function runRoles(roles: ReadonlyArray<'own-line' | 'ping' | 'pong'>, ms: number): Promise<Array<{ ops: number; ms: number }>> {
  const sab = new SharedArrayBuffer(4 * (OWN_BASE + (roles.length + 1) * LINE_WORDS));
  const m = new Int32Array(sab);
  const workers = roles.map((role, idx) => new Worker(workerFile(), { workerData: { sab, role, idx, ms } }));
  const answers = workers.map((w) => new Promise<{ ops: number; ms: number }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`host probe worker exited with ${code} before answering`)));
  }));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`host probe: no answer in ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS); });
  try {
    // Start together: every worker is counted in READY_WORD before GO is stored (bounded by the timeout).
    const ready = (async () => {
      while (Atomics.load(m, READY_WORD) < roles.length) await new Promise((r) => setTimeout(r, 1));
      Atomics.store(m, GO_WORD, 1);
      Atomics.notify(m, GO_WORD);
    })();
    await Promise.race([ready, timeout]);
    return await Promise.race([Promise.all(answers), timeout]);
  } finally {
    clearTimeout(timer);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** One probe: one thread, two threads, a ping-pong; each window `ms` long. */
export async function probeHost(ms = 150): Promise<HostProbeSample> {
  const rate = (a: { ops: number; ms: number }): number => (a.ops * 1000) / a.ms;
  const [one] = await runRoles(['own-line'], ms);
  const two = await runRoles(['own-line', 'own-line'], ms);
  const [ping] = await runRoles(['ping', 'pong'], ms);
  const oneThreadOpsPerSec = rate(one!);
  const twoThreadsOpsPerSec = two.reduce((s, a) => s + rate(a), 0);
  return {
    oneThreadOpsPerSec,
    twoThreadsOpsPerSec,
    scale: twoThreadsOpsPerSec / oneThreadOpsPerSec,
    roundTripUs: ping!.ops > 0 ? (ping!.ms * 1000) / ping!.ops : Infinity,
  };
}

/** A round trip for a report line: microseconds, or milliseconds once the host time-slices the two threads. */
export function fmtRoundTrip(us: number): string {
  return us < 1000 ? `${us.toFixed(2)} us` : `${(us / 1000).toFixed(1)} ms`;
}

export function summarizeHost(samples: HostProbeSample[]): HostProbeSummary {
  return { samples, scale: summarize(samples.map((s) => s.scale)), roundTripUs: summarize(samples.map((s) => s.roundTripUs)) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { ms: { type: 'string', default: '150' }, reps: { type: 'string', default: '3' } }, strict: true });
  const ms = Number(values.ms);
  const reps = Number(values.reps);
  if (!Number.isInteger(ms) || ms < 10 || ms > 10_000 || !Number.isInteger(reps) || reps < 1 || reps > 100) {
    console.error('usage: host_probe [--ms 10..10000] [--reps 1..100]');
    process.exit(2);
  }
  const samples: HostProbeSample[] = [];
  for (let r = 0; r < reps; r++) {
    const s = await probeHost(ms);
    samples.push(s);
    console.log(`rep ${r + 1}: one thread ${Math.round(s.oneThreadOpsPerSec).toLocaleString('en-US')} ops/s, two ${Math.round(s.twoThreadsOpsPerSec).toLocaleString('en-US')} (${s.scale.toFixed(2)}x), round trip ${fmtRoundTrip(s.roundTripUs)}`);
  }
  const h = summarizeHost(samples);
  console.log(`median: two threads ${h.scale.median.toFixed(2)}x one; round trip ${fmtRoundTrip(h.roundTripUs.median)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => { console.error(e); process.exit(1); });
}
