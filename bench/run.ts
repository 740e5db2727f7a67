/**
 * `npm run bench`: prints the figures and writes them as JSON (bench/results/latest.json).
 */
import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { join } from 'node:path';
import { benchPrimitives } from './primitives.js';
import { projectRoot } from '../src/machine.js';

async function main(): Promise<void> {
  const machine = { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', memGiB: +(totalmem() / 2 ** 30).toFixed(1), kernel: release() };
  console.log(`pidrace bench on ${machine.cpuModel} x${machine.cpus}, Node ${machine.node}, Linux ${machine.kernel}`);
  const prims = [...await benchPrimitives({ lockdep: false }), ...await benchPrimitives({ lockdep: true })];
  console.log('\nPrimitives (tinybench, one CPU, in-process):');
  for (const p of prims) console.log(`  ${p.name.padEnd(48)} ${p.lockdep ? 'lockdep on ' : 'lockdep off'} ${p.nsPerOp.toFixed(1).padStart(9)} ns/op  ${(p.opsPerSec / 1e6).toFixed(2).padStart(8)} M/s  ±${p.rme.toFixed(1)}%`);
  const out = { date: new Date().toISOString(), machine, primitives: prims };
  const dir = join(projectRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `latest.json.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(out, null, 2));
  renameSync(tmp, join(dir, 'latest.json'));
  console.log(`\nwrote ${join('bench', 'results', 'latest.json')}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
