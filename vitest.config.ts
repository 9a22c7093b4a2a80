import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    setupFiles: ['test/helpers/loop-watch.ts'],
    // CI also writes a JSON report that .ci/run checks: vitest exits 0 without one when it is stopped by
    // SIGTERM part-way (its signal handler calls process.exit()), which must not pass as green.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: process.env.CI ? { json: 'test-results.json' } : undefined,
  },
});
