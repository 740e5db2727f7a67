/**
 * Every shared field comes from the one schema (src/mm/layout.ts): outside src/mm no code indexes
 * the shared Int32Array with a literal offset (`mem[p + 3]`, `Atomics.load(mem, p + 1)`); it names
 * the field (`mem[p + VIOLATION.cpu]`). The scan reads the TypeScript sources, so it needs no build.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tsFiles } from './source_files.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCANNED = ['src', 'workers', 'bench', 'test'];
/** The schema's own home: layout.ts derives the offsets, memory.ts lays out the regions. */
const EXEMPT = ['src/mm/'];


/** Blank out comments and string literals (keeping line breaks), so only code is scanned. */
export function stripCommentsAndStrings(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`/g,
    (s) => s.replace(/[^\n]/g, ' '));
}

/** The text from `open` (an opening bracket) to its matching close, exclusive. */
function balanced(src: string, open: number): string {
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    const ch = src[i];
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') {
      depth--;
      if (depth === 0) return src.slice(open + 1, i);
    }
  }
  return src.slice(open + 1);
}

/** Split an expression at top-level occurrences of the separator characters. */
function splitTop(expr: string, seps: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i]!;
    if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) depth--;
    else if (depth === 0 && seps.includes(ch)) {
      parts.push(expr.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(expr.slice(start));
  return parts;
}

const LITERAL = /^\s*(0x[0-9a-f]+|\d+)\s*!?\s*$/i;

/** An index expression `base + 3` (a top-level term that is a bare number added to an address). */
export function hasLiteralOffset(index: string): boolean {
  const terms = splitTop(index, '+-');
  return terms.length > 1 && terms.some((t) => LITERAL.test(t));
}

/** Names the shared Int32Array goes by: `mem`, `m`, `this.mem`, `machine.mem`, `m.mem`. */
const ARRAY = String.raw`(?<![\w$])(?:[\w$]+\.)?(?:mem|m)`;

export function findLiteralOffsets(src: string): { line: number; text: string }[] {
  const code = stripCommentsAndStrings(src);
  const hits: { line: number; text: string }[] = [];
  const lineOf = (i: number): number => code.slice(0, i).split('\n').length;
  for (const match of code.matchAll(new RegExp(`${ARRAY}\\s*\\[`, 'g'))) {
    const open = match.index + match[0].length - 1;
    const index = balanced(code, open);
    if (hasLiteralOffset(index)) hits.push({ line: lineOf(match.index), text: `${match[0]}${index}]` });
  }
  for (const match of code.matchAll(new RegExp(`Atomics\\.\\w+\\s*\\(\\s*${ARRAY}\\s*,`, 'g'))) {
    const args = splitTop(balanced(code, code.indexOf('(', match.index)), ',');
    if (args[1] !== undefined && hasLiteralOffset(args[1])) hits.push({ line: lineOf(match.index), text: `${match[0]}${args[1]}` });
  }
  return hits;
}

describe('literal offsets into the shared memory', () => {
  it('the scanner finds the forms it looks for, and not array-index code', () => {
    expect(findLiteralOffsets('mem[u + 1] = a;')).toHaveLength(1);
    expect(findLiteralOffsets('const x = m[c + CPU.rcu_cb + 2]!;')).toHaveLength(1);
    expect(findLiteralOffsets('Atomics.store(mem, p + 0x4, 1);')).toHaveLength(1);
    expect(findLiteralOffsets('this.mem[a + 1 + i] = v;')).toHaveLength(1);
    expect(findLiteralOffsets('mem[p + VIOLATION.cpu] = 1; mem[(i + 1) * 4] = 0; x[i + 1] = 2;')).toHaveLength(0);
    expect(findLiteralOffsets('// mem[p + 3] in a comment\nconst s = "mem[p + 3]";')).toHaveLength(0);
  });

  it('no file outside src/mm indexes it with a literal offset', () => {
    const found: string[] = [];
    for (const dir of SCANNED) {
      for (const f of tsFiles(join(ROOT, dir))) {
        const rel = relative(ROOT, f).split('\\').join('/');
        if (EXEMPT.some((e) => rel.startsWith(e)) || rel === 'test/literal_offsets.test.ts') continue;
        for (const h of findLiteralOffsets(readFileSync(f, 'utf8'))) found.push(`${rel}:${h.line}: ${h.text.trim()}`);
      }
    }
    expect(found).toEqual([]);
  });
});
