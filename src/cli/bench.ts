/**
 * `pidrace bench`: the same benchmark as `npm run bench` (bench/run.ts), from the CLI.
 */
import { UsageError, type Command } from './common.js';

export const command: Command = {
  name: 'bench',
  summary: 'fork rate across CPUs and namespace depths beside the real kernel, primitives, alternatives',
  usage: 'pidrace bench [--quick] [--scale | --no-scale] [--only SECTIONS] [--reps N] [--cpus 1,2,8] [--depths 0,31] [--no-write] [--out DIR]',
  async run(argv: string[]): Promise<number> {
    // bench/ compiles next to src/ (dist/bench/run.js); it is main-side code like this CLI.
    const b = await import('../../bench/run.js');
    let opts;
    try {
      opts = b.parseArgs(argv);
    } catch (e) {
      if (e instanceof b.BenchUsageError) throw new UsageError(e.message);
      throw e;
    }
    await b.runBench(opts);
    return 0;
  },
};
