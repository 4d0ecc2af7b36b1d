import { describe, expect, it } from 'vitest';
import { networkAttachmentByIdSchema, networkDefinitionSchema } from '../../agent/network/types.js';
import { attachmentById, type ContainerNetworkAttachment } from '../../lib/index.js';

describe('network attachment contract', () => {
  const network = {
    id: 'n1',
    name: 'web',
    driver: 'overlay' as const,
    subnet: '10.0.1.0/24',
    gateway: '10.0.1.1',
    vxlanId: 4097,
    internal: false,
  };

  it('reads a network definition as the agent persists it (networks/<id>.json)', () => {
    const onDisk = JSON.parse(JSON.stringify({ ...network, labels: { a: 'b' } }));
    expect(networkDefinitionSchema.parse(onDisk)).toEqual(onDisk);
  });

  it('names the network by ID once the node has set it up, keeping names and address', () => {
    const a: ContainerNetworkAttachment = { network, aliases: ['web', 'tasks.web'], ipv4Address: '10.0.1.5' };
    const byId = attachmentById(a);
    expect(byId).toEqual({ networkId: 'n1', aliases: ['web', 'tasks.web'], ipv4Address: '10.0.1.5' });
    expect(networkAttachmentByIdSchema.parse(byId)).toEqual(byId);
    expect(attachmentById({ network, aliases: [] })).toEqual({ networkId: 'n1', aliases: [] });
  });
});
