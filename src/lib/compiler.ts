/**
 * include/linux/compiler.h: data_race(expr), the kernel's mark for an access that races on
 * purpose. It returns its argument (V8 inlines the call); the checked build
 * (src/tools/build_checked.ts) leaves the accesses inside it unchecked, as KCSAN ignores them.
 */
export function data_race<T>(x: T): T {
  return x;
}
