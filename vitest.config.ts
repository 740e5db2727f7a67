import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Tests start worker threads that each take a CPU; two files at a time fit 2 cores.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
