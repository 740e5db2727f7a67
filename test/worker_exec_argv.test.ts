/**
 * V8 and per-process Node options on the command line (node --maglev dist/src/cli.js ...) reach
 * the CPU workers as process-wide settings; the worker pool must not pass them again as a worker's
 * execArgv, which Node rejects with ERR_WORKER_INVALID_EXEC_ARGV (src/machine.ts,
 * worker_exec_argv). Needs the build (dist/).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';

describe('CPU workers under node with V8 options', () => {
  it('node --maglev --stack-trace-limit=30 --enable-source-maps: a stress run starts its CPUs and ends in SUCCESS', () => {
    const r = spawnSync(process.execPath,
      ['--maglev', '--stack-trace-limit=30', '--enable-source-maps', 'dist/src/cli.js', 'stress', '--cpus', '2', '--duration', '1s', '--quiet'],
      { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).not.toMatch(/ERR_WORKER_INVALID_EXEC_ARGV/);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/SUCCESS/);
  }, 70_000);
});
