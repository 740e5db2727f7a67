/**
 * The CPU workers' V8 tiering (src/machine.ts, CPU_WORKER_V8_FLAGS): creating a CPU pool sets
 * process-wide V8 flags, and a worker isolate created after it compiles with them; a flag given on
 * the node command line wins. Seen through V8's own trace of TurboFan's inlining decisions: a
 * 255-bytecode callee is inlined under V8's default cumulative budget (920) and not under the
 * workers' (230). Needs the build (dist/).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { cpu_worker_v8_flags_to_set, CPU_WORKER_V8_FLAGS } from '../src/machine.js';

const machineUrl = pathToFileURL(resolve('dist/src/machine.js')).href;

/** In a fresh node: maybe create the CPU pool options, then optimize f (calls g) in a new worker. */
function g_inlined_in_worker(pool: boolean, nodeFlags: string[] = []): boolean {
  const body = Array.from({ length: 12 }, (_, i) => `s += (a * ${i + 3}) ^ (s >>> ${i % 7});`).join(' ');
  const workerSrc = `function g(a) { let s = 0; ${body} return s; }
function f(a) { return g(a) + 1; }
%PrepareFunctionForOptimization(g); %PrepareFunctionForOptimization(f);
for (let i = 0; i < 50; i++) f(i);
%OptimizeFunctionOnNextCall(f); f(3);`;
  const main = `import { Worker } from 'node:worker_threads';
${pool ? `const m = await import(${JSON.stringify(machineUrl)}); m.cpuPoolOptions(1);` : ''}
const w = new Worker(${JSON.stringify(workerSrc)}, { eval: true, execArgv: [] });
await new Promise((r) => w.on('exit', r));`;
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--trace-turbo-inlining', ...nodeFlags, '--input-type=module', '-e', main],
    { encoding: 'utf8', timeout: 30_000 });
  expect(r.status, r.stderr).toBe(0);
  // V8 prints "Considering g ..." for the call site, then "Inlining g into f" only if it inlines.
  expect(r.stdout).toMatch(/Considering .*<SharedFunctionInfo g>/);
  return /Inlining .*<SharedFunctionInfo g>.* into .*<SharedFunctionInfo f>/.test(r.stdout);
}

describe('CPU worker V8 flags', () => {
  it('a worker created after the CPU pool options compiles with the smaller inlining budget', () => {
    expect(g_inlined_in_worker(false)).toBe(true); // V8's defaults: inlined
    expect(g_inlined_in_worker(true)).toBe(false); // the workers' budget: not inlined
  }, 40_000);

  it('a flag given on the node command line wins over the workers\' default', () => {
    expect(g_inlined_in_worker(true, ['--max-inlined-bytecode-size-cumulative=920'])).toBe(true);
    expect(cpu_worker_v8_flags_to_set(['--interrupt_budget=1000'])).toEqual(CPU_WORKER_V8_FLAGS.filter((f) => !f.startsWith('--interrupt-budget=')));
    expect(cpu_worker_v8_flags_to_set([])).toEqual([...CPU_WORKER_V8_FLAGS]);
  }, 40_000);
});
