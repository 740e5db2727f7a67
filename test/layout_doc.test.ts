import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderLayoutDoc } from '../src/mm/layout_doc.js';
import { ALL_STRUCTS } from '../src/mm/layout.js';
import { guard_of } from '../src/mm/guard.js';

describe('SharedArrayBuffer.md', () => {
  it('matches the layout schema (regenerate with npm run gen:layout-doc)', () => {
    const doc = readFileSync(new URL('../SharedArrayBuffer.md', import.meta.url), 'utf8');
    expect(doc).toBe(renderLayoutDoc());
  });

  it('documents every field of every structure with its guard', () => {
    const doc = readFileSync(new URL('../SharedArrayBuffer.md', import.meta.url), 'utf8');
    for (const s of ALL_STRUCTS) {
      expect(doc).toContain(`### \`${s.name}\``);
      for (const f of s.fields) {
        expect(guard_of(f.guard).text.length).toBeGreaterThan(0);
        expect(doc).toContain(`| \`${f.name}\` |`);
      }
    }
  });
});
