// The CNI configuration list for one container interface on one skiff network. Pure.

import type { ContainerNetworkAttachment } from '../../lib/index.js';
import { parseCidr } from './cidr.js';
import type { CniConfigList, CniPluginConfig } from './cni.js';
import { CNI_VERSION } from './cni.js';
import { bridgeNameFor, cniNetworkNameFor } from './names.js';

/** The attachment's network and address (host-local IPAM when it has none). */
export interface InterfaceConfigInput extends Pick<ContainerNetworkAttachment, 'network' | 'ipv4Address'> {
  ipamDataDir: string;
  /** Only the container's first interface carries the default route. */
  defaultRoute: boolean;
  mtu?: number;
  publishesPorts: boolean;
}

export function interfaceConfigList(input: InterfaceConfigInput): CniConfigList {
  const { network } = input;
  const prefix = parseCidr(network.subnet).prefixLength;
  const routes = input.defaultRoute && !network.internal ? [{ dst: '0.0.0.0/0' }] : [];
  const ipam: Record<string, unknown> =
    input.ipv4Address === undefined
      ? {
          type: 'host-local',
          ranges: [[{ subnet: network.subnet, gateway: network.gateway }]],
          routes,
          dataDir: input.ipamDataDir,
        }
      : {
          type: 'static',
          addresses: [{ address: `${input.ipv4Address}/${prefix}`, gateway: network.gateway }],
          routes,
        };
  const bridge: CniPluginConfig = {
    type: 'bridge',
    bridge: bridgeNameFor(network.id),
    isGateway: true,
    // skiff masquerades per network (firewall.ts) instead of per container.
    ipMasq: false,
    hairpinMode: true,
    ipam,
  };
  if (input.mtu !== undefined) bridge.mtu = input.mtu;
  const plugins: CniPluginConfig[] = [bridge];
  if (input.publishesPorts)
    plugins.push({ type: 'portmap', capabilities: { portMappings: true }, snat: true });
  return { cniVersion: CNI_VERSION, name: cniNetworkNameFor(network.id), plugins };
}

export function loopbackConfigList(): CniConfigList {
  return { cniVersion: CNI_VERSION, name: 'skiff-loopback', plugins: [{ type: 'loopback' }] };
}
