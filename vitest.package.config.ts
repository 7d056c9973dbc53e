import { defineConfig } from 'vitest/config';

// `npm run test:package`: installs the packed release (`npm run pack:release` first) into an empty
// project the way a user would, then serves from it. Separate from `npm test` because it needs the
// tarballs and a warm npm cache, and runs once per release build rather than per change.
export default defineConfig({
  test: {
    include: ['test/package/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
