// The multi-host test lab and the small helpers every test uses.
//
//   const lab = await createLab({ hosts: 3 });          // h1..h3 on 10.200.N.0/24
//   try {
//     const agent = lab.hosts[0].spawn('skiff', ['agent', '--listen', `${lab.hosts[0].addr}:4242`]);
//     await waitFor(() => agent.output().includes('ready'), { what: 'the agent on h1 to be ready' });
//     await lab.cut(lab.hosts[1]);                        // partition h2
//     await lab.restore(lab.hosts[1]);
//     await lab.block('h1', 'h3');                        // h1 and h3 lose each other only
//     await lab.heal();                                   // no blocks, no cuts
//     await lab.hosts[0].crash();                         // kill -9 everything in h1
//     await agent.restart();
//   } finally {
//     await lab.destroy();
//   }
//
// Hosts are network namespaces (`ip netns exec`, which also gives each process its own
// mount namespace and /sys; `{ sharedMounts: true }` joins only the network namespace),
// each with `dir`, a directory for its state and run roots.
// Everything is named `skl<pid>_<n>…`; sweepLeftovers() (run by scripts/test through
// sweep-cli.ts) removes what runs of dead processes left behind.

export * from './capture.js';
export * from './cleanup.js';
export * from './command.js';
export {
  type CreateLabOptions,
  createLab,
  type Lab,
  type LabHost,
  type LabRunOptions,
  labLeftovers,
} from './lab.js';
export { freePort } from './ports.js';
export { LabProcess, type LabSpawnOptions, type ProcessExit } from './process.js';
export { isProcessAlive, type SweepReport, sweepLeftovers } from './sweep.js';
export { LAB_DIR } from './teardown.js';
export * from './wait.js';
