/**
 * Fleets (issue 14): four shards of a controlled seed range as four separate processes (two take
 * their index from a Kubernetes Indexed Job's JOB_COMPLETION_INDEX, two from a CI matrix's
 * PIDRACE_SHARD_INDEX), merged by `pidrace merge`, give the verdict and the per-seed runs of one
 * unsharded run of the same seeds.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
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
