import { findScenario } from '/work/main/dist/src/scenarios/catalog.js';
import { scenarioConfig } from '/work/main/dist/src/scenarios/runner.js';
import { Machine, workerPath } from '/work/main/dist/src/machine.js';
import { Piscina } from '/work/main/node_modules/piscina/dist/index.js';
import { G, CPU } from '/work/main/dist/src/mm/layout.js';
import { kg, cpu_addr } from '/work/main/dist/src/mm/memory.js';
const sc = findScenario('7a'); const v = sc.variants[1];
const pool = new Piscina({ filename: workerPath(), minThreads: 2, maxThreads: 2, idleTimeout: 60000 });
const sleep = (ms) => new Promise(r => setTimeout(r, ms));
await sleep(500);
for (let k = 0; k < 12; k++) {
  const t0 = performance.now();
  const m = new Machine(scenarioConfig(sc), { mode: 'controlled', seed: 100 + k });
  m.attach(); sc.build(m, v, 'controlled');
  m.control({ strategy: 'pct', pctDepth: 3, pctSteps: 600, maxDecisions: 60000, stopOnViolation: true });
  const mm = m.mem;
  for (let i = 0; i < 2; i++) { const c = cpu_addr(i); mm[c + CPU.online] = 1; }
  Atomics.store(mm, kg + G.ctl_turn, 0); Atomics.store(mm, kg + G.run_state, 1);
  const t1 = performance.now();
  const tasks = [0, 1].map(cpu => pool.run({ shared: m.shared, cpu }));
  const w = Atomics.waitAsync(mm, kg + G.run_state, 1, 10000); await w.value;
  const t2 = performance.now();
  await Promise.all(tasks);
  const t3 = performance.now();
  console.log('setup', (t1 - t0).toFixed(2), 'run', (t2 - t1).toFixed(2), 'settle', (t3 - t2).toFixed(2), 'dec', mm[kg + G.ctl_decisions], 'sw', mm[kg + G.ctl_switches]);
}
await pool.destroy();
