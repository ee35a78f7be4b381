import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['source'] },
  // vitest runs tests in SSR mode, which takes its conditions from here
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: [
      'edge-sdk/src/**/*.test.ts',
      'infra/*/src/**/*.test.ts',
      'functions/src/**/*.test.ts',
      'cdk/test/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
