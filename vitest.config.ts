import { defineConfig } from 'vitest/config';

// Four groups, in order: pure unit tests run fully parallel; the raft simulation
// (1,000 seeded runs per cluster size, minutes of CPU) has a project of its own so its
// deadline is not the unit tests'; system tests drive real crun, registries, CNI plugins
// and network namespaces, so they share the 2 cores with bounded parallelism and longer
// deadlines; the chaos run comes last, alone.
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
      {
        // The whole-cluster nemesis (test/chaos): 6 daemons and their containers, alone
        // after the system tests so they do not share the cores with it. ~5 minutes.
        test: {
          name: 'chaos',
          include: ['test/chaos/**/*.test.ts'],
          testTimeout: 900_000,
          hookTimeout: 120_000,
          maxWorkers: 1,
          sequence: { groupOrder: 3 },
          globalSetup: ['test/system/global-setup.ts'],
        },
      },
    ],
  },
});
