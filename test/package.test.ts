/**
 * The package as another project sees it: `import { Kernel } from 'pidrace'` through package.json's
 * `exports`, with the declarations of `types`. A consumer directory gets node_modules/pidrace as a
 * link to this checkout (what `npm install ../pidrace` makes); node runs a consumer module, and tsc
 * type-checks a consumer file against the shipped declarations (a deliberate type error must be
 * caught, so the types are not `any`). Both bounded in time. Needs the build (npm test builds).
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
let dir = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pidrace-consumer-'));
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  symlinkSync(root, join(dir, 'node_modules', 'pidrace'), 'dir');
  symlinkSync(join(root, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the package by name', () => {
  it('package.json names the entry and its declarations', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, string>>; types: string };
    expect(pkg.exports['.']!.types).toBe('./dist/src/api.d.ts');
    expect(pkg.exports['.']!.import).toBe('./dist/src/api.js');
    expect(existsSync(join(root, pkg.types))).toBe(true);
  });

  it('node: import { Kernel } from "pidrace" boots a kernel and forks', () => {
    writeFileSync(join(dir, 'use.mjs'), [
      "import { Kernel, KernelError } from 'pidrace';",
      'const k = Kernel.create();',
      'const c = k.fork(k.init);',
      'let code = "";',
      "try { k.setPidMax(c, 1); } catch (e) { code = e instanceof KernelError ? e.code : String(e); }",
      'console.log(JSON.stringify({ pid: k.getpid(c), tid: k.gettid(c), nspid: c.nspid, pidMax: k.pidMax(k.init), code }));',
    ].join('\n'));
    const out = execFileSync(process.execPath, ['use.mjs'], { cwd: dir, timeout: 30_000, encoding: 'utf8' });
    const r = JSON.parse(out.trim()) as { pid: number; tid: number; nspid: number[]; pidMax: number; code: string };
    expect(r.pid).toBe(2);
    expect(r.tid).toBe(2);
    expect(r.nspid).toEqual([2]);
    expect(r.pidMax).toBeGreaterThan(300);
    expect(r.code).toMatch(/^E[A-Z]+$/);
  }, 40_000);

  it('tsc: the consumer type-checks against the declarations, and a type error is caught', () => {
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, types: ['node'], lib: ['ES2024'] },
      files: ['use.ts'],
    }));
    writeFileSync(join(dir, 'use.ts'), [
      "import { Kernel, type TaskHandle } from 'pidrace';",
      'const k: Kernel = Kernel.create({ ncpus: 1 });',
      'const c: TaskHandle = k.fork(k.init);',
      'const ns: readonly number[] = c.nspid;',
      'const last: number = k.nsLastPid(c);',
      'const max: number = k.pidMax(k.init);',
      'const tid: number = k.gettid(c);',
      '// @ts-expect-error fork takes a task handle, not a string',
      "k.fork('init');",
      'export { ns, last, max, tid };',
    ].join('\n'));
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    let out = '';
    try {
      out = execFileSync(process.execPath, [tsc, '-p', '.'], { cwd: dir, timeout: 60_000, encoding: 'utf8' });
    } catch (e) {
      const x = e as { stdout?: string; stderr?: string };
      throw new Error(`tsc failed:\n${x.stdout ?? ''}${x.stderr ?? ''}`);
    }
    expect(out.trim()).toBe('');
  }, 70_000);
});
