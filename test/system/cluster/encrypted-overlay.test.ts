// Encrypted overlays with real daemons on two lab hosts, on this machine's kernel, which
// has xfrm but no ESP transform (CONFIG_INET_ESP unset): `--opt encrypted` is accepted,
// the leader makes the network key ring and `cluster rotate-network-key` turns it; each
// node reports that it cannot encrypt, so the scheduler keeps the network's tasks pending
// with the reason rather than place them where their traffic would leave in clear, and no
// node keeps ESP state behind.
// A plain overlay on the same nodes runs as before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENCRYPTED_OVERLAY_PLUGIN } from '../../../lib/index.js';
import { runCommand, waitFor } from '../../lab/index.js';
import { LAB_IMAGE, type LabCluster, logTail, startLabCluster } from '../../support/lab-cluster.js';

describe('an encrypted overlay on a kernel without ESP', () => {
  let c: LabCluster;

  beforeAll(async () => {
    c = await startLabCluster({ managers: 1, workers: 1, image: true });
  }, 240_000);

  afterAll(async () => {
    for (const s of ['sealed-svc', 'plain-svc']) await c?.skiff(['service', 'rm', s]).catch(() => {});
    await c?.destroy();
  }, 120_000);

  it('makes and turns the key ring, and places no task of the network on nodes that cannot encrypt', async () => {
    const none = await c.skiff(['cluster', 'rotate-network-key']);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('no encrypted overlay network has been created');
    await c.api().createNetwork({ Name: 'sealed', Driver: 'overlay', Options: { encrypted: '' } });
    await c.api().createNetwork({ Name: 'plain', Driver: 'overlay' });
    const rotated = await c.skiff(['cluster', 'rotate-network-key']);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(JSON.stringify(await c.api().swarmInspect())).not.toContain('x-skiff-network-keys');

    for (const [name, network] of [
      ['sealed-svc', 'sealed'],
      ['plain-svc', 'plain'],
    ] as const) {
      const r = await c.skiff([
        'service',
        'create',
        '--detach',
        '--name',
        name,
        '--mode',
        'global',
        '--network',
        network,
        LAB_IMAGE,
        'sleep',
        '3600',
      ]);
      expect(r.code, r.stderr).toBe(0);
    }
    const tasksOf = (s: string) => c.apiTasks([s]);
    await waitFor(
      async () => (await tasksOf('plain-svc')).filter((t) => t.Status.State === 'running').length === 2,
      {
        what: 'the plain overlay service running on both hosts',
        timeoutMs: 120_000,
      },
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${c.nodes.map((n) => `${n.host.name}:\n${logTail(n, 30)}`).join('\n')}`);
    });
    // Neither node can encrypt, and says so in its description: the scheduler keeps the
    // encrypted overlay's tasks pending with the reason rather than send them to be refused.
    for (const n of await c.apiNodes())
      expect(n.Description?.Engine?.Plugins ?? []).not.toContainEqual(ENCRYPTED_OVERLAY_PLUGIN);
    const pending = await waitFor(
      async () => {
        const ts = (await tasksOf('sealed-svc')).filter((t) => t.Status.State === 'pending' && t.Status.Err);
        return ts.length === 2 ? ts : undefined;
      },
      { what: 'the encrypted overlay service pending on both hosts, with the reason', timeoutMs: 120_000 },
    );
    // A global service's task asks for its own node only.
    for (const t of pending)
      expect(t.Status.Err).toBe('no suitable node (no IPsec ESP for encrypted overlays on 1 node)');
    expect((await tasksOf('sealed-svc')).some((t) => t.Status.State === 'running')).toBe(false);

    for (const n of c.nodes) {
      const inHost = (...a: string[]) => runCommand('ip', ['netns', 'exec', n.host.netns, ...a]);
      expect((await inHost('ip', 'xfrm', 'state', 'list')).stdout.trim()).toBe('');
      expect((await inHost('ip', 'xfrm', 'policy', 'list')).stdout.trim()).toBe('');
      expect((await inHost('nft', 'list', 'table', 'ip', 'skiff_esp')).code).not.toBe(0);
    }
  }, 300_000);
});
