// The lab's wiring: N simulated hosts, each a network namespace with one address,
// plugged by veth pairs into a switch (a Linux bridge in a namespace of its own), and
// optionally a link from the root namespace to the switch so its processes reach the
// hosts. Nothing else shows in the root namespace.
import { runChecked } from './command.js';

export interface TopologyHost {
  /** `h1`, … : names the host's port on the switch. */
  name: string;
  netns: string;
  addr: string;
}

export interface TopologySpec {
  switchNetns: string;
  hosts: readonly TopologyHost[];
  /** Prefix length of the hosts' subnet (24 for a /24). */
  prefixLength: number;
  /** A root-namespace interface on the switch, with its address on the subnet. */
  rootLink?: { name: string; addr: string };
}

/** The switch's port (in the switch namespace) that a host's eth0 is plugged into. */
export function switchPort(hostName: string): string {
  return `p-${hostName}`;
}

/** Creates the namespaces and links; the caller removes them (also when this throws). */
export async function createTopology(spec: TopologySpec): Promise<void> {
  const sw = spec.switchNetns;
  // One `ip -batch` per namespace: a few processes for the whole lab, not a few per host.
  await ipBatch(undefined, [`netns add ${sw}`, ...spec.hosts.map((h) => `netns add ${h.netns}`)]);
  await ipBatch(sw, [
    'link set lo up',
    'link add br0 type bridge stp_state 0 forward_delay 0',
    'link set br0 up',
    ...spec.hosts.flatMap((h) => [
      `link add ${switchPort(h.name)} type veth peer name eth0 netns ${h.netns}`,
      `link set ${switchPort(h.name)} master br0 up`,
    ]),
  ]);
  for (const h of spec.hosts) {
    await ipBatch(h.netns, [
      'link set lo up',
      `addr add ${h.addr}/${spec.prefixLength} dev eth0`,
      'link set eth0 up',
    ]);
  }
  if (spec.rootLink) {
    const { name, addr } = spec.rootLink;
    await ipBatch(undefined, [
      `link add ${name} type veth peer name p-root netns ${sw}`,
      `addr add ${addr}/${spec.prefixLength} dev ${name}`,
      `link set ${name} up`,
    ]);
    await ipBatch(sw, ['link set p-root master br0 up']);
  }
}

/** Runs `ip` commands in one process, in `netns` or the root namespace. */
export async function ipBatch(netns: string | undefined, commands: readonly string[]): Promise<void> {
  const args = netns ? ['-n', netns, '-batch', '-'] : ['-batch', '-'];
  await runChecked('ip', args, { input: `${commands.join('\n')}\n`, timeoutMs: 30_000 });
}
