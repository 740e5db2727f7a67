/**
 * `pidrace report RUN.json -o FILE.html`: the HTML report of a saved run (the --json output of
 * `pidrace stress`, `pidrace deadlock` or `pidrace replay`). A report saved with --trace or --html
 * carries its trace and gets the timeline; an older one gets the rest (verdict, wait-for graph,
 * held locks, contention, replay command).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError, type Command } from './common.js';
import { model_from_json } from '../trace/report_model.js';
import { write_html_file } from '../trace/output.js';

export const USAGE = `usage: pidrace report RUN.json -o FILE.html

Writes the self-contained HTML report (styles and scripts inline, nothing loaded from the network)
of a saved run: the JSON report of "pidrace stress|deadlock|replay ... --json RUN.json". Reports
saved with --trace or --html carry the trace and get the per-CPU timeline too.

  -o, --output FILE     the HTML file to write (required)

exit: 0 written, 2 usage error (missing or unreadable RUN.json, no -o).`;

async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: { output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
  });
  if (v.help) { process.stdout.write(USAGE + '\n'); return 0; }
  if (positionals.length !== 1) throw new UsageError(positionals.length ? 'give one RUN.json' : 'missing RUN.json');
  if (!v.output) throw new UsageError('missing -o FILE.html');
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`${positionals[0]}: ${(e as Error).message}`);
  }
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw new UsageError(`${positionals[0]}: not a pidrace JSON report`);
  await write_html_file(v.output, model_from_json(j));
  process.stdout.write(`report: ${v.output}\n`);
  return 0;
}

export const command: Command = { name: 'report', summary: 'the HTML report of a saved run', usage: USAGE, run };
