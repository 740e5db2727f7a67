/**
 * The CPU workers' V8 tiering (src/machine.ts, CPU_WORKER_V8_FLAGS): creating a CPU pool sets
 * process-wide V8 flags, and a worker isolate created after it tiers up with them; a flag given on
 * the node command line wins. Seen through V8's own optimization status: how many calls of a small
 * function a worker makes before V8 marks it for (or starts) optimization - 419 with V8's interrupt
 * budget on Node 20, 4x as many with the workers' budget. Needs the build (dist/).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { cpu_worker_v8_flags_to_set, CPU_WORKER_V8_FLAGS } from '../src/machine.js';

const machineUrl = pathToFileURL(resolve('dist/src/machine.js')).href;

/** In a fresh node: maybe create the CPU pool options, then count g's calls before tier-up in a new worker. */
function calls_before_tier_up(pool: boolean, nodeFlags: string[] = []): number {
  // %GetOptimizationStatus bits: optimized (4), TurboFan (6), marked for (concurrent) optimization (8, 9), optimizing concurrently (10).
  const workerSrc = `function g(a) { let s = 0; for (let i = 0; i < 4; i++) s += (a * i) ^ (s >>> 3); return s; }
let n = 0;
for (; n < 100000; n++) { g(n); if ((%GetOptimizationStatus(g) & ((1 << 4) | (1 << 6) | (1 << 8) | (1 << 9) | (1 << 10))) !== 0) break; }
require('node:worker_threads').parentPort.postMessage(n);`;
  const main = `import { Worker } from 'node:worker_threads';
${pool ? `const m = await import(${JSON.stringify(machineUrl)}); m.cpuPoolOptions(1);` : ''}
const w = new Worker(${JSON.stringify(workerSrc)}, { eval: true, execArgv: [] });
w.on('message', (n) => console.log('calls=' + n));`;
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', ...nodeFlags, '--input-type=module', '-e', main], { encoding: 'utf8', timeout: 30_000 });
  expect(r.status, r.stderr).toBe(0);
  const m = /calls=(\d+)/.exec(r.stdout);
  expect(m, r.stdout + r.stderr).not.toBeNull();
  return Number(m![1]);
}

describe('CPU worker V8 flags', () => {
  it('a worker created after the CPU pool options tiers up later (the larger interrupt budget)', () => {
    const dflt = calls_before_tier_up(false);
    const pool = calls_before_tier_up(true);
    expect(dflt).toBeLessThan(100000); // V8 did optimize g
    expect(pool).toBeGreaterThan(3 * dflt);
  }, 40_000);

  it('a flag given on the node command line wins over the workers\' default', () => {
    const dflt = calls_before_tier_up(false);
    expect(calls_before_tier_up(true, ['--interrupt-budget=67584'])).toBeLessThan(2 * dflt);
    expect(cpu_worker_v8_flags_to_set(['--interrupt_budget=1000'])).toEqual([]);
    expect(cpu_worker_v8_flags_to_set([])).toEqual([...CPU_WORKER_V8_FLAGS]);
  }, 40_000);
});
