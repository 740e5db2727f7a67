// Native helpers: the real-kernel conformance oracle (native/pidns_driver.c)
// and the real-kernel fork benchmark (native/forkbench_native.c).
// The real-kernel parts skip (with the reason in the suite name) when not
// root or when no C compiler is installed.
import { describe, expect, it } from 'vitest';
import { buildNative } from '../src/native/build.js';
import { runKernelForkBench, KernelForkBenchError } from '../src/native/forkbench.js';
import { runDriverSelftest, runOnRealKernel, RealKernelError } from '../src/conformance/real.js';
import { formatScript, parseResults, parseScript, raw, type Op } from '../src/conformance/script.js';

const driver = buildNative('pidns_driver');
const bench = buildNative('forkbench_native');
const skipNote = (b: ReturnType<typeof buildNative>): string => (b.ok ? '' : ` [SKIPPED: ${b.reason}]`);

describe('conformance script format', () => {
  it('formats and parses back every op kind', () => {
    const ops: Op[] = [
      { op: 'fork', t: 0, c: 1, newpid: true },
      { op: 'clone3', t: 0, c: 2, setTid: [7, 100] },
      { op: 'clone3', t: 0, c: 3, setTid: [], newpid: true },
      { op: 'unshare', t: 1, flags: ['newuser', 'newpid'] },
      { op: 'dropcaps', t: 2 },
      { op: 'exit', t: 2, code: 3 },
      { op: 'wait', t: 0, target: -1, options: ['wnohang', 'wall'] },
      { op: 'kill', t: 0, target: raw(-5), sig: 'SIGTERM' },
      { op: 'openns', t: 0, target: 1, kind: 'pid_for_children', f: 4 },
      { op: 'pidfd', t: 0, target: { handle: 1 }, f: 5 },
      { op: 'setns', t: 0, f: 4, flags: [] },
      { op: 'close', f: 4 },
      { op: 'lastpid_read', t: 0 },
      { op: 'lastpid_write', t: 0, value: 99 },
      { op: 'getpid', t: 1 },
      { op: 'getppid', t: 1 },
      { op: 'nspid', t: 0, target: raw(123) },
      { op: 'reboot', t: 1, cmd: 'restart' },
      { op: 'state' },
      { op: 'sleep', ms: 10 },
    ];
    const text = formatScript(ops);
    expect(text).toContain('clone3 0 2 7,100\n');
    expect(text).toContain('clone3 0 3 - newpid\n');
    expect(text).toContain('kill 0 #-5 15\n');
    expect(text).toContain('wait 0 -1 wnohang wall\n');
    expect(text).toContain('setns 0 4 0\n');
    expect(formatScript(parseScript(text))).toBe(text);
  });

  it('treats # as comment unless it starts a raw pid', () => {
    const ops = parseScript('# header\nkill 0 #12 KILL # trailing comment\n\n  # indented\nwait 0 #-1\n');
    expect(ops).toEqual([
      { op: 'kill', t: 0, target: { raw: 12 }, sig: 9 },
      { op: 'wait', t: 0, target: { raw: -1 } },
    ]);
    expect(() => parseScript('fork 0\n')).toThrow(/line 1/);
    expect(() => formatScript([{ op: 'fork', t: 0, c: 256 }])).toThrow();
  });

  it('parses driver NDJSON, dropping non-result lines', () => {
    const r = parseResults('{"i":0,"op":"getpid","t":0,"ret":1,"errno":null}\n{"done":true}\n{"i":1,"op":"wa');
    expect(r).toEqual([{ i: 0, op: 'getpid', t: 0, ret: 1, errno: null }]);
  });
});

describe(`real kernel: pidns_driver${skipNote(driver)}`, () => {
  it.skipIf(!driver.ok)('passes its built-in selftest', async () => {
    const st = await runDriverSelftest({ timeoutMs: 60_000 });
    expect(st.failed).toEqual([]);
    expect(st.pass).toBe(true);
  });

  it.skipIf(!driver.ok)('reports pid-namespace facts of the real kernel', async () => {
    const r = await runOnRealKernel(
      [
        { op: 'fork', t: 0, c: 1, newpid: true }, // 0
        { op: 'getpid', t: 1 }, // 1
        { op: 'clone3', t: 0, c: 2, setTid: [300] }, // 2
        { op: 'clone3', t: 0, c: 3, setTid: [300] }, // 3 EEXIST
        { op: 'openns', t: 0, target: 0, kind: 'pid', f: 0 }, // 4
        { op: 'setns', t: 1, f: 0, flags: ['newpid'] }, // 5 ancestor: EINVAL
        { op: 'dropcaps', t: 2 }, // 6
        { op: 'clone3', t: 2, c: 4, setTid: [400] }, // 7 EPERM
        { op: 'kill', t: 1, target: 0, sig: 'KILL' }, // 8 invisible
        { op: 'exit', t: 1, code: 5 }, // 9
        { op: 'wait', t: 0, target: 1 }, // 10
        { op: 'wait', t: 0, target: -1, options: ['wnohang'] }, // 11
      ],
      { timeoutMs: 30_000 },
    );
    expect(r).toHaveLength(12);
    expect(r[0]?.nspid).toEqual([2, 1]);
    expect(r[1]?.ret).toBe(1);
    expect(r[2]?.ret).toBe(300);
    expect(r[3]?.errno).toBe('EEXIST');
    expect(r[5]?.errno).toBe('EINVAL');
    expect(r[7]?.errno).toBe('EPERM');
    expect(r[8]?.visible).toBe(false);
    expect(r[9]?.died).toEqual([1]);
    expect(r[10]).toMatchObject({ reaped: 1, status: { exited: 5 } });
    expect(r[11]?.ret).toBe(0);
  });

  it.skipIf(!driver.ok)('is bounded by its timeout', async () => {
    const p = runOnRealKernel(
      [
        { op: 'fork', t: 0, c: 1 },
        { op: 'wait', t: 0, target: 1 },
        { op: 'wait', t: 0, target: 1 },
      ],
      { timeoutMs: 2500 },
    );
    await expect(p).rejects.toBeInstanceOf(RealKernelError);
  });
});

describe(`real kernel: forkbench_native${skipNote(bench)}`, () => {
  it.skipIf(!bench.ok)('measures fork at depth 0 and 3, vfork and thread', async () => {
    for (const [mode, depth] of [
      ['fork', 0],
      ['fork', 3],
      ['vfork', 1],
      ['thread', 1],
    ] as const) {
      const r = await runKernelForkBench({ mode, depth, loopers: 1, millis: 150 });
      expect(r.mode).toBe(mode);
      expect(r.level).toBe(depth);
      expect(r.cycles).toBeGreaterThan(0);
      expect(r.rate).toBeGreaterThan(0);
    }
  });

  it.skipIf(!bench.ok)('is refused beyond 32 nested pid namespaces (ENOSPC)', async () => {
    const p = runKernelForkBench({ mode: 'fork', depth: 33, loopers: 1, millis: 50 });
    await expect(p).rejects.toBeInstanceOf(KernelForkBenchError);
    await expect(p).rejects.toMatchObject({ errno: 'ENOSPC' });
  });
});
