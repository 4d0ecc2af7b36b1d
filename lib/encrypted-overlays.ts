// Which nodes can carry an encrypted overlay, and which tasks need one: the contract
// between the agent, which reports the capability in its node description, and the
// scheduler, which places a task on an encrypted overlay only where it can run. Without
// it such a task lands on a node whose kernel has no IPsec ESP, is refused there, and
// loops through restarts instead of saying at once why it cannot run.
import { isEncryptedNetwork } from './labels.js';
import type { NodeDescription, Task } from './model/index.js';

/**
 * What a node lists among its engine's plugins (`docker node inspect`: Engine.Plugins)
 * when it can carry encrypted overlays: its kernel has ESP with AES-GCM, or it is a
 * single node whose overlays never leave the host.
 */
export const ENCRYPTED_OVERLAY_PLUGIN = { Type: 'Network', Name: 'overlay-encrypted' } as const;

/** Whether a node's description says it can carry encrypted overlays. */
export function nodeCarriesEncryptedOverlays(description: NodeDescription | undefined): boolean {
  return (description?.Engine?.Plugins ?? []).some(
    (p) => p.Type === ENCRYPTED_OVERLAY_PLUGIN.Type && p.Name === ENCRYPTED_OVERLAY_PLUGIN.Name,
  );
}

/** Whether a task is attached to an encrypted overlay (once the allocator has attached it). */
export function taskNeedsEncryptedOverlay(task: Task): boolean {
  return (task.NetworksAttachments ?? []).some(
    (a) => a.Network.Driver === 'overlay' && isEncryptedNetwork(a.Network.Options),
  );
}
