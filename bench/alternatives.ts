/**
 * Alternatives a user would consider (issue 7): the cost of one kernel operation sent to a worker
 * as a piscina task and as a postMessage round trip, measured in this run, next to the same
 * operation called in shared memory and to one fork cycle of the model. It shows why the model
 * runs its kernel in shared memory: dispatching each operation costs tens of microseconds.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Machine, projectRoot } from '../src/machine.js';
import { TORTURE } from '../src/mm/layout.js';
import { spin_lock, spin_unlock } from '../src/locking/spinlock.js';
import type { Logger } from './util.js';

export interface AltFigure {
  name: string;
  /** Microseconds per operation (latency with one in flight, or 1 / throughput when pipelined). */
  usPerOp: number;
  opsPerSec: number;
  ops: number;
}

export interface AltResult {
  figures: AltFigure[];
}

function workerFile(): string {
  return join(projectRoot(), 'dist', 'bench', 'alt_worker.js');
}

const now = (): number => performance.now();

async function timeLoop(ms: number, body: () => Promise<void>, cap = 1e7): Promise<{ n: number; ms: number }> {
  let n = 0;
  const t0 = now();
  while (now() - t0 < ms && n < cap) { await body(); n++; }
  return { n, ms: now() - t0 };
}

async function pipelined(ms: number, inflight: number, send: () => Promise<unknown>): Promise<{ n: number; ms: number }> {
  let done = 0;
  let sent = 0;
  const t0 = now();
  await new Promise<void>((resolve, reject) => {
    const submit = (): void => {
      sent++;
      send().then(() => {
        done++;
        if (now() - t0 < ms) submit();
        else if (done === sent) resolve();
      }, reject);
    };
    for (let i = 0; i < inflight; i++) submit();
  });
  return { n: done, ms: now() - t0 };
}

const fig = (name: string, r: { n: number; ms: number }): AltFigure => ({ name, usPerOp: (r.ms * 1000) / r.n, opsPerSec: (r.n * 1000) / r.ms, ops: r.n });

export async function benchAlternatives(o: { ms: number; log?: Logger }): Promise<AltResult> {
  const log = o.log ?? (() => {});
  const m = new Machine({ ncpus: 1, maxTasks: 64, choiceWords: 1024 });
  m.attach();
  const lock = m.tortureBase() + TORTURE.spin;
  const figures: AltFigure[] = [];

  // In shared memory, on this thread.
  {
    const N = 200_000;
    for (let i = 0; i < N; i++) { spin_lock(lock); spin_unlock(lock); }
    const t0 = now();
    for (let i = 0; i < N; i++) { spin_lock(lock); spin_unlock(lock); }
    const f = fig('in shared memory (direct call)', { n: N, ms: now() - t0 });
    figures.push(f);
  }

  // piscina: one task per operation.
  {
    const pool = new Piscina({ filename: workerFile(), minThreads: 1, maxThreads: 1, idleTimeout: 60_000, execArgv: ['--no-experimental-require-module'] });
    const task = { shared: m.shared, lock };
    await Promise.all(Array.from({ length: 200 }, () => pool.run(task)));
    figures.push(fig('piscina task, 1 in flight', await timeLoop(o.ms, async () => { await pool.run(task); })));
    figures.push(fig('piscina task, 1000 in flight', await pipelined(o.ms, 1000, () => pool.run(task))));
    await pool.destroy();
  }

  // postMessage round trip to a worker_threads Worker.
  {
    const w = new Worker(workerFile(), { workerData: { altRaw: true, shared: m.shared, lock } });
    const pending = new Map<number, () => void>();
    w.on('message', (seq: number) => { const f = pending.get(seq); if (f) { pending.delete(seq); f(); } });
    let seq = 0;
    const send = (): Promise<void> => new Promise<void>((resolve) => { const s = seq++; pending.set(s, resolve); w.postMessage(s); });
    for (let i = 0; i < 200; i++) await send();
    figures.push(fig('postMessage round trip, 1 in flight', await timeLoop(o.ms, send)));
    figures.push(fig('postMessage, 1000 in flight', await pipelined(o.ms, 1000, send)));
    w.postMessage(-1);
    await w.terminate();
  }
  for (const f of figures) log(`  ${f.name.padEnd(40)} ${f.usPerOp < 1 ? `${(f.usPerOp * 1000).toFixed(1)} ns` : `${f.usPerOp.toFixed(2)} µs`}/op`);
  return { figures };
}
