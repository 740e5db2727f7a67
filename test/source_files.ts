/** Listing the project's TypeScript sources, for the tests that read them as text. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every .ts file below dir (declaration files left out), recursively. */
export function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}
