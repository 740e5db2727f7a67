/** Writes SharedArrayBuffer.md from the layout schema (npm run gen:layout-doc). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderLayoutDoc } from '../mm/layout_doc.js';
import { projectRoot } from '../machine.js';

writeFileSync(join(projectRoot(), 'SharedArrayBuffer.md'), renderLayoutDoc());
console.log('wrote SharedArrayBuffer.md');
