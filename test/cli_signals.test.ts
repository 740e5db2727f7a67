/**
 * Ctrl-C into a crashing run: `pidrace stress --plant crash --json FILE` as a user runs it, with
 * SIGINT sent again and again from the moment the crashed run's report starts to come out until
 * the process exits. Exactly one whole report must be written (it parses, it is the crash's
 * FAILURE), no temporary file is left behind, and the process ends within its bound, with the
 * FAILURE status (1) — or killed by a Ctrl-C that came in the last moments of its teardown, when
 * no JavaScript runs any more to handle it.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const cli = resolve(import.meta.dirname, '..', 'dist', 'src', 'cli.js');

describe('Ctrl-C during a crash', () => {
  it('one whole report, no torn or temporary file, no hang', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pidrace-sig-'));
    try {
      const p = spawn(process.execPath, [cli, 'stress', '--cpus', '2', '--duration', '20s', '--plant', 'crash', '--json', 'out.json'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let timer: NodeJS.Timeout | undefined;
      let sent = 0;
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => {
        stderr += String(d);
        // The run is over (the crash report is being printed): Ctrl-C from here on, every 2 ms.
        if (!timer && stderr.includes('pidrace stress:')) timer = setInterval(() => { if (p.exitCode === null && p.kill('SIGINT')) sent++; }, 2);
      });
      p.stdout.resume();
      const t0 = performance.now();
      const exit = await new Promise<{ code: number | null; signal: string | null }>((res) => {
        const bound = setTimeout(() => p.kill('SIGKILL'), 60_000);
        p.on('exit', (code, signal) => { clearTimeout(bound); clearInterval(timer); res({ code, signal }); });
      });
      expect(performance.now() - t0).toBeLessThan(60_000);
      expect(sent).toBeGreaterThan(0);
      expect(exit.code === 1 || (exit.code === null && exit.signal === 'SIGINT'), JSON.stringify(exit)).toBe(true);
      expect(readdirSync(dir)).toEqual(['out.json']);
      const report = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as { verdict: string; state: string; crash?: { message: string } };
      expect(report.verdict).toBe('FAILURE');
      expect(report.state).toBe('crashed');
      expect(report.crash!.message).toContain('planted crash');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 70_000);
});
