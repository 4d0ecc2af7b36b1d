import { defineConfig } from 'vitest/config';

// Two groups: pure unit tests run fully parallel; system tests drive real crun,
// registries, CNI plugins and network namespaces, so they share the 2 cores with
// bounded parallelism and longer deadlines.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 30_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'system',
          include: ['test/system/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
          globalSetup: ['test/system/global-setup.ts'],
        },
      },
    ],
  },
});
