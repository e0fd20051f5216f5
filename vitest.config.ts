import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{src,bot,engine,reports,test}/**/*.test.ts'],
    // The e2e tests spawn the real CLI; give them room on a 2-core CI box.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
