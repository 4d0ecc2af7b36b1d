import { defineConfig } from 'vitest/config';

// Three groups, in order: pure unit tests run fully parallel; the raft simulation
// (1,000 seeded runs per cluster size, minutes of CPU) has a project of its own so its
// deadline is not the unit tests'; system tests drive real crun, registries, CNI plugins
// and network namespaces, so they share the 2 cores with bounded parallelism and longer
// deadlines.
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
          name: 'raft-sim',
          include: ['test/raft-sim/**/*.test.ts'],
          testTimeout: 600_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'system',
          include: ['test/system/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          maxWorkers: 2,
          sequence: { groupOrder: 2 },
          globalSetup: ['test/system/global-setup.ts'],
        },
      },
    ],
  },
});
