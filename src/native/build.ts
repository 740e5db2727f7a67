// Compiles the project's native helpers (native/<name>.c) on demand.
//
// buildNative('pidns_driver') -> { ok: true, path } | { ok: false, reason }
//
// Binaries are cached in <project>/node_modules/.cache/pidrace-native (or
// <tmpdir>/pidrace-native-<uid> when that is not writable) and rebuilt when
// the source is newer than the binary.  Compilation goes to a temporary name
// and is renamed into place, so parallel test workers cannot see a partial
// binary.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type BuildResult = { ok: true; path: string } | { ok: false; reason: string };

export interface BuildOptions {
  /** Refuse (with a reason) when not running as root. Default true: every helper needs CAP_SYS_ADMIN. */
  requireRoot?: boolean;
  /** Override the cache directory. */
  cacheDir?: string;
  /** Rebuild even if the cached binary is up to date. */
  force?: boolean;
  /** Compiler to use; default $CC or `cc` from PATH. */
  cc?: string;
  /** Compilation time limit in ms (default 120000). */
  timeoutMs?: number;
}

export const NOT_ROOT_REASON = 'not root: nested pid namespaces need CAP_SYS_ADMIN';
export const NO_CC_REASON = 'no C compiler (cc) found';

const NAME_RE = /^[A-Za-z0-9_-]+$/;

function walkUpForNative(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'native')) && existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/**
 * Directory that holds `native/` (the project root): $PIDRACE_ROOT, else the
 * first ancestor of this module (src/ or dist/src/), else of the cwd, that
 * has both native/ and package.json.
 */
export function findProjectRoot(start: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  const env = process.env['PIDRACE_ROOT'];
  if (env !== undefined && env !== '' && existsSync(join(env, 'native'))) return resolve(env);
  return walkUpForNative(start) ?? walkUpForNative(process.cwd());
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Absolute path of the C compiler ($CC, else `cc`, else `gcc`, else `clang` on PATH), or undefined. */
export function findCompiler(preferred?: string): string | undefined {
  const candidates = [preferred, process.env['CC'], 'cc', 'gcc', 'clang'].filter(
    (c): c is string => typeof c === 'string' && c.length > 0,
  );
  const path = (process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter);
  for (const c of candidates) {
    if (c.includes('/')) {
      if (isExecutable(c)) return c;
      continue;
    }
    for (const d of path) {
      const p = join(d || '.', c);
      if (isExecutable(p)) return p;
    }
  }
  return undefined;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function writableDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The cache directory binaries are written to. */
export function nativeCacheDir(root: string | undefined = findProjectRoot()): string {
  if (root !== undefined) {
    const d = join(root, 'node_modules', '.cache', 'pidrace-native');
    if (writableDir(d)) return d;
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'u';
  const d = join(os.tmpdir(), `pidrace-native-${uid}`);
  mkdirSync(d, { recursive: true });
  return d;
}

function mtimeMs(p: string): number | undefined {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Compile native/<name>.c with `cc -O2 -pthread` (cached).  Never throws:
 * failure comes back as { ok: false, reason }.
 */
export function buildNative(name: string, opts: BuildOptions = {}): BuildResult {
  if (!NAME_RE.test(name)) return { ok: false, reason: `bad native program name '${name}'` };
  if (process.platform !== 'linux') return { ok: false, reason: `not Linux (${process.platform}): pid namespaces are Linux-only` };
  if ((opts.requireRoot ?? true) && !isRoot()) return { ok: false, reason: NOT_ROOT_REASON };
  const root = findProjectRoot();
  if (root === undefined) return { ok: false, reason: 'project root with native/ not found' };
  const src = join(root, 'native', `${name}.c`);
  const srcTime = mtimeMs(src);
  if (srcTime === undefined) return { ok: false, reason: `source not found: ${src}` };
  let dir: string;
  try {
    dir = opts.cacheDir ?? nativeCacheDir(root);
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    return { ok: false, reason: `cannot create cache dir: ${(e as Error).message}` };
  }
  const out = join(dir, name);
  const outTime = mtimeMs(out);
  if (!opts.force && outTime !== undefined && outTime >= srcTime && isExecutable(out)) return { ok: true, path: out };

  const cc = findCompiler(opts.cc);
  if (cc === undefined) return { ok: false, reason: NO_CC_REASON };
  const tmp = `${out}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const r = spawnSync(cc, ['-O2', '-pthread', '-o', tmp, src], {
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 120_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error !== undefined || r.status !== 0) {
    rmSync(tmp, { force: true });
    const detail = r.error?.message ?? `${(r.stderr ?? '').trim().split('\n').slice(-5).join(' | ')}`;
    return { ok: false, reason: `${cc} failed on ${name}.c: ${detail || `exit ${String(r.status)}`}` };
  }
  try {
    renameSync(tmp, out);
  } catch (e) {
    rmSync(tmp, { force: true });
    return { ok: false, reason: `cannot install ${out}: ${(e as Error).message}` };
  }
  return { ok: true, path: out };
}
