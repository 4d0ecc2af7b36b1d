// Writes a container's OCI bundle in its state directory: the /etc files it gets, its
// mounts, and config.json from the config builder beside it (oci-config.ts). Answers the
// record the runtime keeps of the container.
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { SkiffError } from '../../lib/index.js';
import { mkdirInRoot, type OciMount, prepareContainerMounts, type VolumeManager } from '../volume/index.js';
import { apparmorFor } from './apparmor.js';
import { effectiveCapabilities } from './capabilities.js';
import type { ContainerRecord } from './container-store.js';
import { allHostDevices, mappedDevices } from './devices.js';
import { hostsFile, resolvConfFile } from './etc-files.js';
import { healthPlan } from './health.js';
import { hostCapabilities, hostHardLimits } from './host-limits.js';
import { readImageEtcFile } from './image-etc-file.js';
import { buildOciConfig, type ContainerDevice } from './oci-config.js';
import { mergeArgs, mergeEnv, mergeStopSignal, mergeUser, mergeWorkdir } from './process-spec.js';
import { SECCOMP_BPF_ANNOTATION, type SeccompBpfCache, seccompFor } from './seccomp.js';
import { normalizeSignal } from './signals.js';
import type { ContainerCreateSpec } from './types.js';
import { parseGroup, parsePasswd, resolveUser } from './user.js';

const DEFAULT_GRACE_MS = 10_000;
/** Where the init binary appears inside a container with `Init: true`. */
const INIT_TARGET = '/sbin/skiff-init';

/** What the bundle takes from the node rather than from the spec. */
export interface BundleHost {
  volumes: VolumeManager;
  /** catatonit or tini on the host, for `Init: true`. */
  initPath: string | undefined;
  /** Parent cgroup of the node's containers. */
  cgroupParent: string;
  /** The node's default seccomp profile (seccomp.ts). */
  seccompProfile: string;
  /** Whether the kernel has AppArmor enabled. */
  apparmor: boolean;
  /** Filters crun compiled before (crun only). */
  seccompCache?: SeccompBpfCache;
}

export async function writeBundle(
  spec: ContainerCreateSpec,
  stateDir: string,
  runDir: string,
  host: BundleHost,
): Promise<ContainerRecord> {
  const cs = spec.spec;
  const image = spec.imageConfig;
  // Confinement first: a container the node cannot confine as asked is refused before
  // anything is mounted for it.
  const seccomp = seccompFor(
    cs,
    effectiveCapabilities(cs.CapabilityAdd ?? [], cs.CapabilityDrop ?? [], hostCapabilities()),
    host.seccompProfile,
  );
  const apparmorProfile = await apparmorFor(cs, host.apparmor);
  // The same filter compiled by crun before: handed over as it is (crun ignores the
  // seccomp section then; it stays in config.json to show what runs). May wait for
  // another create compiling the same profile.
  const bpf = seccomp ? await host.seccompCache?.lookup(spec.id, seccomp) : undefined;
  const passwd = parsePasswd(await readImageEtcFile(spec.rootfs, '/etc/passwd'));
  const groups = parseGroup(await readImageEtcFile(spec.rootfs, '/etc/group'));
  const user = resolveUser(mergeUser(image, cs), passwd, groups, cs.Groups ?? []);
  const hostname = spec.hostname ?? cs.Hostname ?? spec.id.slice(0, 12);
  const tty = cs.TTY === true;
  let args = mergeArgs(image, cs);
  const cwd = mergeWorkdir(image, cs);
  await mkdirInRoot(spec.rootfs, cwd);
  const env = mergeEnv(image, cs, { hostname, home: user.home, tty });

  const etcMounts: OciMount[] = [];
  const etcFiles: [string, string][] = [
    ['/etc/hosts', spec.hostsFile ?? hostsFile(hostname, cs.Hosts ?? [])],
    ['/etc/hostname', `${hostname}\n`],
    [
      '/etc/resolv.conf',
      spec.resolvConf ??
        resolvConfFile(cs.DNSConfig, await readFile('/etc/resolv.conf', 'utf8').catch(() => '')),
    ],
  ];
  for (const [target, content] of etcFiles) {
    const source = join(stateDir, basename(target));
    writeFileSync(source, content, { mode: 0o644 });
    etcMounts.push({ destination: target, type: 'bind', source, options: ['rbind', 'rprivate'] });
  }
  const userMounts = await prepareContainerMounts(host.volumes, {
    containerId: spec.id,
    rootfs: spec.rootfs,
    mounts: cs.Mounts ?? [],
    files: spec.files ?? [],
    runDir,
    stateDir,
  });
  const mounts = [...etcMounts, ...userMounts];
  if (cs.Init) {
    if (!host.initPath) {
      throw new SkiffError(
        'unavailable',
        `container ${spec.id} asks for an init, but neither catatonit nor tini is installed`,
        {
          hint: 'install catatonit (scripts/setup does)',
        },
      );
    }
    mounts.push({
      destination: INIT_TARGET,
      type: 'bind',
      source: host.initPath,
      options: ['bind', 'ro', 'rprivate'],
    });
    args = [INIT_TARGET, '--', ...args];
  }
  const limits = spec.resources?.Limits;
  const config = buildOciConfig({
    rootfs: spec.rootfs,
    readonlyRootfs: cs.ReadOnly === true,
    args,
    env,
    cwd,
    user,
    tty,
    ...(spec.consoleSize ? { consoleSize: spec.consoleSize } : {}),
    hostname,
    mounts,
    ...(spec.netnsPath ? { netnsPath: spec.netnsPath } : {}),
    cgroupsPath: `${host.cgroupParent}/${spec.id}`,
    ...(limits?.MemoryBytes ? { memoryBytes: limits.MemoryBytes } : {}),
    ...(limits?.NanoCPUs ? { nanoCpus: limits.NanoCPUs } : {}),
    ...(limits?.Pids ? { pidsLimit: limits.Pids } : {}),
    capAdd: cs.CapabilityAdd ?? [],
    capDrop: cs.CapabilityDrop ?? [],
    sysctls: cs.Sysctls ?? {},
    ulimits: cs.Ulimits ?? [],
    ...(cs.Privileged ? { privileged: true } : {}),
    ...(cs.Privileges?.NoNewPrivileges !== undefined
      ? { noNewPrivileges: cs.Privileges.NoNewPrivileges }
      : {}),
    devices: await containerDevices(cs),
    hostCapabilities: hostCapabilities(),
    hostHardLimits: hostHardLimits(),
    annotations: { 'io.skiff.name': spec.name, ...(bpf ? { [SECCOMP_BPF_ANNOTATION]: bpf } : {}) },
    ...(seccomp ? { seccomp } : {}),
    ...(apparmorProfile ? { apparmorProfile } : {}),
  });
  writeFileSync(join(stateDir, 'config.json'), JSON.stringify(config, null, 2));
  const plan = healthPlan(image.Healthcheck, cs.HealthCheck);
  const rec: ContainerRecord = {
    id: spec.id,
    name: spec.name,
    labels: { ...(image.Labels ?? {}), ...(cs.Labels ?? {}), ...(spec.labels ?? {}) },
    createdAt: new Date().toISOString(),
    stopSignal: normalizeSignal(mergeStopSignal(image, cs)),
    stopGraceMs: cs.StopGracePeriod !== undefined ? cs.StopGracePeriod / 1e6 : DEFAULT_GRACE_MS,
    tty,
    rootfs: spec.rootfs,
    cgroupsPath: config.linux.cgroupsPath,
    ...(plan ? { health: plan } : {}),
    process: config.process,
  };
  return rec;
}

/** The host devices a container gets: its mapped ones, and all of /dev when privileged. */
async function containerDevices(cs: ContainerCreateSpec['spec']): Promise<ContainerDevice[]> {
  const mapped = cs.Devices?.length ? await mappedDevices(cs.Devices) : [];
  return cs.Privileged ? [...(await allHostDevices()), ...mapped] : mapped;
}
