/**
 * Module load order: pid.ts and pid_namespace.ts import each other (and other kernel modules join
 * the cycle through signal.ts, nsproxy.ts ...). Whatever kernel module a program imports first,
 * the kernel must load, boot and run. Each case is a fresh module graph: a worker thread that
 * imports one compiled module first (dist/, like the CPU workers), then the scripting API, boots a
 * machine, forks into a new pid namespace, tears it down and audits. Needs the build (dist/).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../src/machine.js';

const dist = join(projectRoot(), 'dist', 'src');

function loadFirst(first: string): Promise<string> {
  const url = (p: string): string => pathToFileURL(join(dist, p)).href;
  const code = `
    import { parentPort } from 'node:worker_threads';
    let out;
    try {
      await import(${JSON.stringify(url(first))});
      const { Kernel } = await import(${JSON.stringify(url('api.js'))});
      const { CLONE_NEWPID } = await import(${JSON.stringify(url('kernel/sched_task.js'))});
      const k = Kernel.create();
      const n = k.fork(k.init, { flags: CLONE_NEWPID });
      const c = k.fork(n);
      if (k.getpid(c) !== 2) throw new Error('pid ' + k.getpid(c));
      k.exit(n, 0);
      const r = k.wait4(k.init, -1);
      if (!('pid' in r)) throw new Error('wait blocked');
      const bad = k.audit();
      out = bad.length ? 'audit: ' + bad.join('; ') : 'ok';
    } catch (e) {
      out = String(e && e.stack || e);
    }
    parentPort.postMessage(out);`;
  return new Promise((resolve) => {
    const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`));
    const timer = setTimeout(() => { void w.terminate(); resolve('timeout'); }, 30_000);
    w.once('message', (m: string) => { clearTimeout(timer); void w.terminate(); resolve(m); });
    w.once('error', (e) => { clearTimeout(timer); resolve(String(e)); });
  });
}

describe('kernel module load order', () => {
  it('any kernel module can be imported first', async () => {
    const mods = readdirSync(join(dist, 'kernel')).filter((f) => f.endsWith('.js')).map((f) => `kernel/${f}`);
    mods.push('rcu/tasks.js', 'api.js');
    expect(mods).toContain('kernel/pid.js');
    const results: Record<string, string> = {};
    const queue = [...mods];
    const lane = async (): Promise<void> => {
      for (let m = queue.shift(); m !== undefined; m = queue.shift()) results[m] = await loadFirst(m);
    };
    await Promise.all([lane(), lane()]);
    expect(Object.entries(results).filter(([, r]) => r !== 'ok')).toEqual([]);
  }, 120_000);
});
