/**
 * Fleets (issue 14): four shards of a controlled seed range as four separate processes (two take
 * their index from a Kubernetes Indexed Job's JOB_COMPLETION_INDEX, two from a CI matrix's
 * PIDRACE_SHARD_INDEX), merged by `pidrace merge`, give the verdict and the per-seed runs of one
 * unsharded run of the same seeds. The same for the shards of `pidrace stress --bug-sweep`: the
 * switch sets are split by index, `pidrace merge` checks that every one was run.
 */
import { describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shard_from_env } from '../src/cli/stress.js';

const CLI = 'dist/src/cli.js';
const BASE = ['stress', '--mode', 'controlled', '--ops', '100', '--cpus', '2', '--seed', '5', '--runs', '4', '--quiet'];

function run(args: string[], env: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (err) => resolve(err ? (err as { code?: number }).code ?? -1 : 0));
  });
}

describe('stress fleets: --shard env and pidrace merge', () => {
  it('shard_from_env: Indexed Job, CI matrix, and a usage error without a count', () => {
    expect(shard_from_env({ JOB_COMPLETION_INDEX: '3', PIDRACE_SHARD_COUNT: '8' })).toBe('3/8');
    expect(shard_from_env({ PIDRACE_SHARD_INDEX: '1', PIDRACE_SHARD_COUNT: '4' })).toBe('1/4');
    expect(() => shard_from_env({ JOB_COMPLETION_INDEX: '3' })).toThrow(/PIDRACE_SHARD_COUNT/);
  });

  it('four shard processes merged == one unsharded run of the same seeds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pidrace-fleet-'));
    const files = [0, 1, 2, 3].map((i) => join(dir, `shard-${i}.json`));
    const codes = await Promise.all([
      ...[0, 1, 2, 3].map((i) => run([...BASE, '--shard', 'env', '--json', files[i]!],
        i < 2 ? { JOB_COMPLETION_INDEX: String(i), PIDRACE_SHARD_COUNT: '4' } : { PIDRACE_SHARD_INDEX: String(i), PIDRACE_SHARD_COUNT: '4' })),
      run([...BASE, '--json', join(dir, 'all.json')]),
    ]);
    const mergeCode = await run(['merge', ...files, '--json', join(dir, 'merged.json')]);
    const merged = JSON.parse(readFileSync(join(dir, 'merged.json'), 'utf8'));
    const all = JSON.parse(readFileSync(join(dir, 'all.json'), 'utf8'));
    expect(merged.shards.missing).toEqual([]);
    expect(merged.runs).toBe(4);
    expect(merged.verdict).toBe(all.verdict);
    expect(mergeCode).toBe(codes[4]);
    // Per seed the same run (controlled mode is deterministic): verdict, state and operations.
    const per = (runs: Array<{ seed: number; verdict: string; state: string; ops: number }>) =>
      runs.map((r) => [r.seed, r.verdict, r.state, r.ops]).sort((a, b) => (a[0] as number) - (b[0] as number));
    const shardRuns = files.flatMap((f) => JSON.parse(readFileSync(f, 'utf8')).runs);
    expect(per(shardRuns)).toEqual(per(all.runs));
    expect(shardRuns.map((r: { seed: number }) => r.seed).sort((a: number, b: number) => a - b)).toEqual([5, 6, 7, 8]);
  }, 120_000);
});

/** A sweep with the given budget flags, in 4 shard processes and unsharded; returns the merged and whole reports. */
async function sweep_fleet(budget: string[]): Promise<{ merged: Record<string, any>; all: Record<string, any>; mergeCode: number; allCode: number; files: string[]; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pidrace-sweep-fleet-'));
  const files = [0, 1, 2, 3].map((i) => join(dir, `sweep-${i}.json`));
  const codes = await Promise.all([
    ...[0, 1, 2, 3].map((i) => run(['stress', '--bug-sweep', ...budget, '--shard', `${i}/4`, '--json', files[i]!])),
    run(['stress', '--bug-sweep', ...budget, '--json', join(dir, 'all.json')]),
  ]);
  const mergeCode = await run(['merge', ...files, '--json', join(dir, 'merged.json')]);
  return { merged: JSON.parse(readFileSync(join(dir, 'merged.json'), 'utf8')), all: JSON.parse(readFileSync(join(dir, 'all.json'), 'utf8')), mergeCode, allCode: codes[4]!, files, dir };
}

const per_set = (rs: Array<{ set: string; found: boolean; ops: number; outcome?: string }>) => rs.map((r) => [r.set, r.found, r.ops, r.outcome ?? null]);

describe('bug-sweep fleets: --bug-sweep --shard I/N and pidrace merge', () => {
  it('four sweep shards (an empty budget) merged == the unsharded sweep; a missing shard fails the merge, a shard given twice is a usage error', async () => {
    const { merged, all, mergeCode, allCode, files, dir } = await sweep_fleet(['--runs', '0', '--duration', '0']);
    // Each item (the clean run, then every switch set) in exactly one shard, by index % 4.
    const shardSets = files.map((f) => JSON.parse(readFileSync(f, 'utf8')).results.map((r: { set: string }) => r.set));
    expect(shardSets.flat().sort()).toEqual([...all.items].sort());
    shardSets.forEach((sets: string[], i: number) => sets.forEach((s) => expect(all.items.indexOf(s) % 4).toBe(i)));
    expect(merged.items).toEqual(all.items);
    expect(per_set(merged.results)).toEqual(per_set(all.results));
    expect(merged.verdict).toBe(all.verdict);
    expect(mergeCode).toBe(allCode);
    expect(merged.shards.missing).toEqual([]);
    // Three of four shards: the items of the fourth are named as not run, and the verdict fails.
    const partialCode = await run(['merge', files[0]!, files[1]!, files[2]!, '--json', join(dir, 'partial.json')]);
    const partial = JSON.parse(readFileSync(join(dir, 'partial.json'), 'utf8'));
    expect(partialCode).toBe(1);
    expect(partial.shards.missing).toEqual([3]);
    expect(partial.missing_items).toEqual(all.items.filter((_: string, i: number) => i % 4 === 3));
    expect(await run(['merge', files[0]!, files[0]!])).toBe(2);
    expect(await run(['merge', files[0]!, join(dir, 'all.json')])).toBe(2);
  }, 120_000);

  it('Ctrl-C (SIGINT) during a sweep: exit 130, a partial report naming the interrupted set, within a bound', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pidrace-sweep-int-'));
    const json = join(dir, 'sweep.json');
    const child = spawn(process.execPath, [CLI, 'stress', '--bug-sweep', '--runs', '2', '--ops', '20000', '--json', json], { stdio: ['ignore', 'ignore', 'pipe'] });
    const code = await new Promise<number | null>((resolve) => {
      // Ctrl-C a few seconds into the first run: counted from the sweep's header on stderr, not
      // from the spawn, so a loaded host's slow start (node, the build's imports) does not leave
      // the run without operations when the signal comes.
      let t: NodeJS.Timeout | undefined;
      child.stderr!.on('data', (b: Buffer) => {
        if (!t && b.toString().includes('bug sweep:')) t = setTimeout(() => child.kill('SIGINT'), 4000);
      });
      const bound = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('exit', (c) => { clearTimeout(t); clearTimeout(bound); resolve(c); });
    });
    expect(code).toBe(130);
    const r = JSON.parse(readFileSync(json, 'utf8'));
    expect(r.interrupted).toBe(true);
    expect(r.results).toHaveLength(1);
    expect(r.results[0].set).toBe('(none)');
    expect(r.results[0].interrupted).toBe(true);
    expect(r.results[0].ops).toBeGreaterThan(0);
  }, 90_000);

  it.runIf(process.env.PIDRACE_SLOW_TESTS)('four sweep shards with real runs (1 PCT seed x 100 ops a set) merged == the unsharded sweep', async () => {
    const { merged, all, mergeCode, allCode } = await sweep_fleet(['--runs', '1', '--ops', '100', '--duration', '0', '--cpus', '2']);
    expect(per_set(merged.results)).toEqual(per_set(all.results));
    expect(merged.verdict).toBe(all.verdict);
    expect(mergeCode).toBe(allCode);
  }, 600_000);
});
