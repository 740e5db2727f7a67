/** Helpers shared by the tests that drive the kernel through the scripting API (src/api.ts). */
import { KernelError, type Kernel, type TaskHandle } from '../src/api.js';

/** The errno name a kernel call failed with, or 'no error'. */
export function errCode(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof KernelError) return e.code;
    throw e;
  }
  return 'no error';
}

/** wait4 by the parent for one child; its status (throws if the wait would block). */
export function reapStatus(k: Kernel, p: TaskHandle, c: TaskHandle): number {
  const r = k.wait4(p, k.pidIn(p, c));
  if ('blocked' in r) throw new Error('reap blocked');
  return r.status;
}
