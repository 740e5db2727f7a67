/**
 * The `pidrace` command line, run as users run it (node dist/src/cli.js): exit codes, usage
 * errors, the JSON and NDJSON outputs, replay of a failing run from its report, shards and merge,
 * and Ctrl-C.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../src/machine.js';

const CLI = join(projectRoot(), 'dist', 'src', 'cli.js');

interface Ran { code: number | null; signal: string | null; stdout: string; stderr: string }

function pidrace(args: string[], opts: { interruptWhen?: (stdout: string) => boolean; timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    p.stdout.on('data', (d: Buffer) => {
      stdout += d;
      // Ctrl-C once the run is under way (not at a fixed time: loading node and the CLI can take
      // seconds on a loaded host, and a SIGINT before the CLI's handler exists kills it outright).
      if (!interrupted && opts.interruptWhen?.(stdout)) { interrupted = true; p.kill('SIGINT'); }
    });
    p.stderr.on('data', (d: Buffer) => { stderr += d; });
    const guard = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`pidrace ${args.join(' ')}: no exit within ${opts.timeoutMs ?? 60_000} ms\n${stderr}`)); }, opts.timeoutMs ?? 60_000);
    p.on('exit', (code, signal) => { clearTimeout(guard); resolve({ code, signal, stdout, stderr }); });
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'pidrace-cli-'));

describe('pidrace CLI', () => {
  it('usage errors exit 2 with a clear message', async () => {
    const none = await pidrace([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toContain('usage: pidrace <command>');
    const unknown = await pidrace(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const cpus = await pidrace(['stress', '--cpus', '0']);
    expect(cpus.code).toBe(2);
    expect(cpus.stderr).toContain('pidrace stress: --cpus: 0 is out of range (1..64)');
    const ops = await pidrace(['stress', '--mode', 'controlled']);
    expect(ops.code).toBe(2);
    expect(ops.stderr).toContain('give --ops N');
    const opt = await pidrace(['stress', '--bogus']);
    expect(opt.code).toBe(2);
    expect(opt.stderr).toContain("Unknown option '--bogus'");
    const help = await pidrace(['stress', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--inject-enomem');
    const merge = await pidrace(['merge', join(tmp, 'missing.json')]);
    expect(merge.code).toBe(2);
  });

  it('stress: SUCCESS exits 0, NDJSON on a pipe, the JSON report written', async () => {
    const f = join(tmp, 'ok.json');
    // An operation budget, not a duration: a loaded host slows the run down, it does not shorten it.
    const r = await pidrace(['stress', '--cpus', '2', '--ops', '3000', '--every', '50ms', '--json', f]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; ops?: number; verdict?: string });
    expect(lines.filter((l) => l.type === 'stats').length).toBeGreaterThanOrEqual(2);
    expect(lines.at(-1)!.type).toBe('report');
    expect(lines.at(-1)!.verdict).toBe('SUCCESS');
    expect(r.stderr).toContain('verdict: SUCCESS');
    const j = JSON.parse(readFileSync(f, 'utf8')) as { verdict: string; exit_code: number; stats: { ops: number } };
    expect(j.verdict).toBe('SUCCESS');
    expect(j.exit_code).toBe(0);
    expect(j.stats.ops).toBeGreaterThanOrEqual(3000);
  });

  it('a failing controlled run exits 1; "pidrace replay" of its report reproduces it exactly', async () => {
    const f = join(tmp, 'fail.json');
    const r = await pidrace(['stress', '--mode', 'controlled', '--cpus', '2', '--ops', '300', '--seed', '2', '--mix', 'rcu-read,rcu-write', '--plant', 'busted-rcu', '--json', f, '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('BUG: RCU reader saw a freed object');
    expect(r.stderr).toContain('verdict: FAILURE');
    const j = JSON.parse(readFileSync(f, 'utf8')) as { replay: { token: string; hash: string } };
    const byFile = await pidrace(['replay', f, '--quiet']);
    expect(byFile.code).toBe(1);
    expect(byFile.stdout).toContain(`reproduced: state stopped, failure "violation: RCU reader saw a freed object", state hash ${j.replay.hash} (same as recorded)`);
    const tf = join(tmp, 'token.txt');
    writeFileSync(tf, j.replay.token + '\n');
    const byToken = await pidrace(['replay', j.replay.token, '--quiet']);
    expect(byToken.code).toBe(1);
    expect(byToken.stdout).toContain('reproduced:');
    const bad = await pidrace(['replay', 'pidrace1.nonsense']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('damaged');
  });

  it('shards of a campaign, then merge', async () => {
    const s0 = join(tmp, 's0.json');
    const s1 = join(tmp, 's1.json');
    const common = ['stress', '--mode', 'controlled', '--cpus', '2', '--ops', '150', '--mix', 'torture', '--runs', '4', '--seed', '10', '--quiet'];
    const [a, b] = await Promise.all([pidrace([...common, '--shard', '0/2', '--json', s0]), pidrace([...common, '--shard', '1/2', '--json', s1])]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect((JSON.parse(readFileSync(s0, 'utf8')) as { seeds: number[] }).seeds).toEqual([10, 12]);
    const m = await pidrace(['merge', s0, s1, '--json', join(tmp, 'merged.json')]);
    expect(m.code).toBe(0);
    expect(m.stdout).toContain('merged 2 reports: 4 runs, 4 passed, 0 failed');
    expect(m.stdout).toContain('shards: 2/2 present');
    const half = await pidrace(['merge', s0]);
    expect(half.code).toBe(1);
    expect(half.stdout).toContain('missing 1');
  });

  it('Ctrl-C ends the run with a partial report', async () => {
    // SIGINT after the second NDJSON stats line: the run is going.
    const r = await pidrace(['stress', '--cpus', '2', '--duration', '60s', '--every', '100ms'], { interruptWhen: (out) => out.split('"type":"stats"').length > 2, timeoutMs: 60_000 });
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('verdict: SUCCESS (interrupted: partial report)');
  });

  it('a reader that closed the pipe (| head): no stack trace, the command\'s own status', async () => {
    const run = (args: string[]): Promise<{ code: number | null; stderr: string }> => new Promise((resolve) => {
      const c = spawn(process.execPath, [join(projectRoot(), 'dist/src/cli.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      c.stdout.destroy();
      let stderr = '';
      c.stderr.on('data', (d: Buffer) => { stderr += d; });
      const bound = setTimeout(() => c.kill('SIGKILL'), 30_000);
      c.on('exit', (code) => { clearTimeout(bound); resolve({ code, stderr }); });
    });
    for (const args of [['deadlock', 'list'], ['stress', '--list-bugs'], ['--help']]) {
      const r = await run(args);
      expect(r.stderr, args.join(' ')).not.toMatch(/EPIPE|Unhandled/);
      expect(r.code, args.join(' ')).toBe(0);
    }
  }, 60_000);
});
