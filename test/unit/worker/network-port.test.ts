// The worker's binding to agent/network: the sandbox is made while the task's networks
// are set up, and a sandbox that fails meanwhile is the task's failure, not the node's
// (an unhandled rejection ends the daemon: a chaos run lost a manager that way).
import { afterEach, describe, expect, it } from 'vitest';
import type { NetworkManager } from '../../../agent/network/index.js';
import { networkPort } from '../../../agent/worker/adapters/network.js';
import type { ContainerNetworkAttachment } from '../../../lib/index.js';

const attachment = {
  network: { id: 'n1', name: 'n1', driver: 'bridge', subnet: '10.1.0.0/24', gateway: '10.1.0.1' },
  addresses: ['10.1.0.5/24'],
  names: ['web'],
} as unknown as ContainerNetworkAttachment;

/** FAKE network layer: a namespace that cannot be made, a network that takes a while. */
function fakeManager(removed: string[]): NetworkManager {
  return {
    createSandbox: async (id: string) => {
      throw new Error(`creating network namespace ${id}: no such file or directory`);
    },
    ensureNetwork: () => new Promise<void>((r) => setTimeout(r, 50)),
    removeSandbox: async (id: string) => {
      removed.push(id);
    },
    dns: { resolvConfOn: () => 'nameserver 10.1.0.1\n' },
  } as unknown as NetworkManager;
}

describe('networkPort sandbox', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  it('fails the task, with nothing unhandled, when the namespace fails while a network is set up', async () => {
    process.on('unhandledRejection', onUnhandled);
    const removed: string[] = [];
    const port = networkPort(fakeManager(removed));
    await expect(port.sandbox?.('t1', [attachment], [])).rejects.toThrow(/creating network namespace t1/);
    // Rejections are reported at the end of a turn: let one pass.
    await new Promise((r) => setTimeout(r, 10));
    expect(unhandled).toEqual([]);
  });
});
