// A stand-in agent for the adoption test: creates and starts the containers it is
// told to on a ContainerRuntime, prints their info as one JSON line, then idles until
// it is killed (kill -9 in the test).
import { ContainerRuntime } from '../../../agent/runtime/index.js';

interface ChildConfig {
  root: string;
  runRoot: string;
  cgroupParent: string;
  containers: { id: string; rootfs: string; command: string[] }[];
}

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const rt = new ContainerRuntime({
  root: config.root,
  runRoot: config.runRoot,
  cgroupParent: config.cgroupParent,
});
const out: unknown[] = [];
for (const c of config.containers) {
  await rt.create({
    id: c.id,
    name: c.id,
    rootfs: c.rootfs,
    imageConfig: {},
    spec: { Image: 'busybox', Command: c.command },
  });
  out.push(await rt.start(c.id));
}
process.stdout.write(`${JSON.stringify(out)}\n`);
setInterval(() => undefined, 60_000);
