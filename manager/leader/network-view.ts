// A stored swarm network in the API's Network shape, as tasks carry it in their
// NetworksAttachments.
import type { Network, SwarmNetwork } from '../../lib/index.js';

export function networkView(n: SwarmNetwork): Network {
  return {
    Name: n.Spec.Name,
    Id: n.ID,
    Created: n.CreatedAt,
    Scope: 'swarm',
    Driver: n.Spec.DriverConfiguration?.Name ?? 'overlay',
    EnableIPv6: n.Spec.IPv6Enabled ?? false,
    IPAM: {
      Driver: n.IPAMOptions?.Driver?.Name ?? 'default',
      Config: n.IPAMOptions?.Configs ?? [],
      Options: n.IPAMOptions?.Driver?.Options ?? {},
    },
    Internal: n.Spec.Internal ?? false,
    Attachable: n.Spec.Attachable ?? false,
    Ingress: n.Spec.Ingress ?? false,
    Options: n.DriverState?.Options ?? {},
    Labels: n.Spec.Labels ?? {},
  };
}
