/**
 * `--trace` / `--html` and `pidrace report` as users run them (node dist/src/cli.js): the files are
 * written, the trace is well-formed Chrome trace-event JSON with events on every CPU's track, the
 * saved JSON turns into the same kind of report, and misuse exits 2.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../src/machine.js';
import { PID_CPUS, type ChromeTrace } from '../src/trace/chrome.js';
import { chrome_trace_problems } from './trace_support.js';

const CLI = join(projectRoot(), 'dist', 'src', 'cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'pidrace-trace-cli-'));

function pidrace(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d; });
    p.stderr.on('data', (d: Buffer) => { stderr += d; });
    const guard = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`pidrace ${args.join(' ')}: no exit in 90 s\n${stderr}`)); }, 90_000);
    p.on('exit', (code) => { clearTimeout(guard); resolve({ code, stdout, stderr }); });
  });
}

describe('pidrace --trace / --html / report', () => {
  it('pidrace deadlock 1 --html --trace --json writes all three; pidrace report rebuilds the page from the JSON', async () => {
    const html = join(tmp, 'r.html');
    const trace = join(tmp, 't.json');
    const json = join(tmp, 'd.json');
    const r = await pidrace(['deadlock', '1', '--html', html, '--trace', trace, '--json', json, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const t = JSON.parse(readFileSync(trace, 'utf8')) as ChromeTrace;
    expect(chrome_trace_problems(t, 2)).toEqual([]);
    for (const cpu of [0, 1]) expect(t.traceEvents.some((e) => e.ph === 'X' && e.pid === PID_CPUS && e.tid === cpu)).toBe(true);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<svg');
    expect(page).toContain('id="tl-data"');
    expect(page).toContain('28319d6dc5e2');
    const again = join(tmp, 'again.html');
    const rep = await pidrace(['report', json, '-o', again]);
    expect(rep.code, rep.stderr).toBe(0);
    const page2 = readFileSync(again, 'utf8');
    expect(page2).toContain('id="tl-data"');
    expect(page2).toContain('REPRODUCED');
  }, 120_000);

  it('misuse exits 2 with a message', async () => {
    const noOut = await pidrace(['report', join(tmp, 'x.json')]);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toContain('missing -o FILE.html');
    const missing = await pidrace(['report', join(tmp, 'nonexistent.json'), '-o', join(tmp, 'x.html')]);
    expect(missing.code).toBe(2);
    const list = await pidrace(['deadlock', 'list', '--trace', join(tmp, 'x.json')]);
    expect(list.code).toBe(2);
    expect(list.stderr).toContain('--trace and --html are for a run');
  }, 60_000);
});
