// Binds the worker's NetworkPort to agent/network: a sandbox per container, CNI
// attachments in the order of the task's networks, names for the embedded DNS, and
// removal of a node's network once its last container left it.
import type { Logger, Task } from '../../../lib/index.js';
import { isSkiffError, silentLogger } from '../../../lib/index.js';
import type { NetworkManager } from '../../network/index.js';
import type { NetworkAttachmentRequest, NetworkPort } from '../ports.js';

/** The option key Docker uses for an overlay network's VXLAN ID. */
const VXLAN_OPTION = 'com.docker.network.driver.overlay.vxlanid_list';

export function networkPort(mgr: NetworkManager, log: Logger = silentLogger): NetworkPort {
  return {
    async attach(containerId, attachments, ports) {
      for (const a of attachments) await mgr.ensureNetwork({ ...a.network });
      const { netnsPath } = await mgr.createSandbox(containerId);
      try {
        if (attachments.length === 0) return { netnsPath, addresses: [] };
        const { interfaces } = await mgr.attach(
          containerId,
          netnsPath,
          attachments.map((a) => ({
            networkId: a.network.id,
            aliases: a.aliases,
            ...(a.ipv4Address ? { ipv4Address: a.ipv4Address } : {}),
          })),
          ports,
        );
        return {
          netnsPath,
          addresses: interfaces.map((i) => ({ networkId: i.networkId, ip: i.ip })),
          resolvConf: mgr.resolvConfFor(containerId),
        };
      } catch (e) {
        await mgr.removeSandbox(containerId).catch(() => {});
        throw e;
      }
    },

    async detach(containerId, networkIds) {
      await mgr.removeSandbox(containerId);
      for (const id of networkIds) {
        try {
          await mgr.removeNetwork(id);
        } catch (e) {
          // Still used by another container on this node: it stays.
          if (!isSkiffError(e) || e.code !== 'conflict')
            log.warn({ networkId: id, err: String(e) }, 'network removal failed');
        }
      }
    },
  };
}

/**
 * The networks a task joins, from its allocated attachments, with the names it answers
 * to: its aliases, the service's name, and the compose service name.
 */
export function networksOfTask(
  task: Task,
  opts: { overlayAsBridge?: boolean } = {},
): NetworkAttachmentRequest[] {
  const service = task.Labels?.['com.docker.swarm.service.name'] ?? '';
  const composeService = task.Spec.ContainerSpec?.Labels?.['com.docker.compose.service'];
  return (task.NetworksAttachments ?? []).map((a) => {
    const n = a.Network;
    const cfg = n.IPAM.Config?.[0];
    const spec = task.Spec.Networks?.find((x) => x.Target === n.Id || x.Target === n.Name);
    const vxlan = Number(n.Options?.[VXLAN_OPTION]);
    const overlay = n.Driver === 'overlay' && !opts.overlayAsBridge;
    const services = [service, composeService].filter((x): x is string => !!x);
    const names = [
      ...(spec?.Aliases ?? []),
      ...services,
      ...services.map((s) => `tasks.${s}`),
      task.Spec.ContainerSpec?.Hostname,
    ].filter((x): x is string => typeof x === 'string' && x !== '');
    return {
      network: {
        id: n.Id,
        name: n.Name,
        driver: overlay ? 'overlay' : 'bridge',
        subnet: cfg?.Subnet ?? '',
        gateway: cfg?.Gateway ?? '',
        ...(overlay && Number.isFinite(vxlan) ? { vxlanId: vxlan } : {}),
        internal: n.Internal,
      },
      aliases: [...new Set(names)],
      ...(a.Addresses[0] ? { ipv4Address: a.Addresses[0].split('/')[0] } : {}),
    };
  });
}
