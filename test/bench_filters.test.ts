/**
 * `pidrace bench --cpus 1,2,8 --depths 0,31` (and `npm run bench -- ...`): one point of the sweep
 * without the whole sweep, the JSON still written to --out, misuse exits 2.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../src/machine.js';
import { BenchUsageError, parseArgs } from '../bench/run.js';

const CLI = join(projectRoot(), 'dist', 'src', 'cli.js');
const RUN = join(projectRoot(), 'dist', 'bench', 'run.js');

describe('bench filters', () => {
  it('parses --cpus and --depths as sorted sets; rejects what is not a list in range', () => {
    expect(parseArgs(['--cpus', '8,1,2,2', '--depths=31,0'])).toMatchObject({ cpus: [1, 2, 8], depths: [0, 31] });
    for (const bad of [['--cpus'], ['--cpus', '0'], ['--cpus', '1,,2'], ['--cpus', '65'], ['--depths', '32'], ['--depths', 'x'], ['--cpus=1.5']]) {
      expect(() => parseArgs(bad), bad.join(' ')).toThrow(BenchUsageError);
    }
  });

  it('misuse exits 2 with a message, from the CLI and from npm run bench', () => {
    const a = spawnSync(process.execPath, [CLI, 'bench', '--cpus', '0'], { encoding: 'utf8', timeout: 30_000 });
    expect(a.status).toBe(2);
    expect(a.stderr).toContain('--cpus');
    const b = spawnSync(process.execPath, [RUN, '--depths', '1,99'], { encoding: 'utf8', timeout: 30_000 });
    expect(b.status).toBe(2);
    expect(b.stderr).toContain('--depths');
  });

  it('measures only the asked point and writes the JSON to --out', () => {
    const out = mkdtempSync(join(tmpdir(), 'pidrace-bench-'));
    const r = spawnSync(process.execPath, [CLI, 'bench', '--quick', '--only', 'forkrate', '--cpus', '1', '--depths', '2', '--out', out], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as {
      command: string;
      forkrate: { points: Array<{ cpus: number; depth: number; rate: { median: number }; samples: Array<{ taskHighWater: number; windowTasksMax: number }> }> };
    };
    expect(rep.forkrate.points.map((p) => [p.cpus, p.depth])).toEqual([[1, 2]]);
    expect(rep.forkrate.points[0]!.rate.median).toBeGreaterThan(0);
    // The window's tasks in use (sampled): the looper and the namespace chain at least, never
    // more than the slab's high water since boot.
    const sm = rep.forkrate.points[0]!.samples[0]!;
    expect(sm.windowTasksMax).toBeGreaterThan(0);
    expect(sm.windowTasksMax).toBeLessThanOrEqual(sm.taskHighWater);
    expect(rep.command).toContain('--cpus 1 --depths 2');
    // One CPU only: no host probe (it describes what a second CPU could get).
    expect((rep.forkrate as { host?: unknown }).host).toBeUndefined();
  });

  it('profiles the fork cycle at 1 and 2 CPUs: per-cycle self times that add up to the window\'s wall time per cycle', () => {
    const out = mkdtempSync(join(tmpdir(), 'pidrace-bench-'));
    const r = spawnSync(process.execPath, [CLI, 'bench', '--quick', '--only', 'profile', '--out', out], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as {
      profile: { cpus: number[]; cyclesPerSec: number[]; totalNs: number[]; waitNs: number[]; atomicsNs: number[]; rows: Array<{ fn: string; a: number; b: number }>; topFirst: Array<{ fn: string; a: number }> };
    };
    const p = rep.profile;
    expect(p.cpus).toEqual([1, 2]);
    for (const i of [0, 1]) {
      expect(p.cyclesPerSec[i]).toBeGreaterThan(0);
      // The samples of the window, over its cycles: the CPU threads' wall time per cycle.
      const wall = (p.cpus[i]! * 1e9) / p.cyclesPerSec[i]!;
      expect(p.totalNs[i]).toBeGreaterThan(0.7 * wall);
      expect(p.totalNs[i]).toBeLessThan(1.1 * wall);
      expect(p.atomicsNs[i]).toBeGreaterThan(0);
      expect(p.atomicsNs[i]! + p.waitNs[i]!).toBeLessThan(p.totalNs[i]!);
    }
    // The kernel's own functions are in the one-CPU profile, and the module loader is not (the
    // samples before the window are left out).
    // The waits' total holds every wait function among the largest differences, performance.now
    // (`now`, read by the waits' spins) with them.
    const waitRows = p.rows.filter((x) => ['qrw_wait', 'spin_lock_slowpath', 'wait_lock_acquire', 'queued_read_lock_slowpath', 'queued_write_lock_slowpath', 'spin_wait', 'now'].includes(x.fn.split(' ')[0]!));
    // (The rows are rounded to 1 ns each, the total once: up to 7 x 0.5 ns apart.)
    expect(p.waitNs[1]).toBeGreaterThanOrEqual(waitRows.reduce((t, x) => t + x.b, 0) - 4);
    const top = JSON.stringify(p.topFirst);
    expect(p.topFirst.some((x) => / kernel\/(fork|exit|pid)\.js$/.test(x.fn)), top).toBe(true);
    expect(p.topFirst.some((x) => /compileSourceTextModule|compileForInternalLoader/.test(x.fn)), top).toBe(false);
    const bad = spawnSync(process.execPath, [join(projectRoot(), 'dist', 'bench', 'profile_diff.js'), '--cpus', '1'], { encoding: 'utf8', timeout: 30_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('usage');
  });

  it('probes the host beside a 2-CPU point, and cites it in the 2-vs-1 target', () => {
    const out = mkdtempSync(join(tmpdir(), 'pidrace-bench-'));
    const r = spawnSync(process.execPath, [CLI, 'bench', '--quick', '--only', 'forkrate', '--cpus', '1,2', '--depths', '0', '--out', out], { encoding: 'utf8', timeout: 90_000 });
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as {
      forkrate: { host?: { samples: Array<{ oneThreadOpsPerSec: number; twoThreadsOpsPerSec: number; scale: number; roundTripUs: number }> } };
      targets: Array<{ id: string; note: string }>;
    };
    const h = rep.forkrate.host;
    expect(h?.samples.length).toBe(1);
    const s = h!.samples[0]!;
    expect(s.oneThreadOpsPerSec).toBeGreaterThan(0);
    expect(s.twoThreadsOpsPerSec).toBeGreaterThan(0);
    expect(s.scale).toBeCloseTo(s.twoThreadsOpsPerSec / s.oneThreadOpsPerSec, 6);
    expect(s.roundTripUs).toBeGreaterThan(0);
    expect(rep.targets.find((t) => t.id === 'scale-2cpu')?.note).toContain('two threads of independent work');
    const bad = spawnSync(process.execPath, [join(projectRoot(), 'dist', 'bench', 'host_probe.js'), '--ms', '1'], { encoding: 'utf8', timeout: 30_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('usage');
  });
});
