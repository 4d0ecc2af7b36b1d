// Runs once before the system tests: they drive real kernels features (namespaces,
// mounts, cgroups) and need root and the packages scripts/setup installs.
export default function setup(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('system tests need root: run them through scripts/test as root');
  }
}
