// The dispatcher's record of which nodes hold which images (registry-less distribution):
// what a node says when registering or in a heartbeat, bounded and checked, answered to
// the other nodes asking for a digest; a node whose session ends is no source any more.
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_HELD_IMAGES } from '../../../lib/index.js';
import { Dispatcher } from '../../../manager/dispatcher/index.js';
import { FakeStore } from './fake-store.js';

const d1 = `sha256:${'1'.repeat(64)}`;
const d2 = `sha256:${'2'.repeat(64)}`;

describe('image sources', () => {
  let dispatcher: Dispatcher | undefined;
  afterEach(() => dispatcher?.stop());

  it('answers the other live nodes that hold a digest, as registrations and heartbeats said', async () => {
    dispatcher = new Dispatcher({ store: new FakeStore(), heartbeatPeriodMs: 60_000 });
    const a = await dispatcher.register({
      nodeId: 'a',
      description: {},
      addr: '10.0.0.1',
      images: { addr: '10.0.0.1:2380', digests: [d1] },
    });
    const b = await dispatcher.register({ nodeId: 'b', description: {}, addr: '10.0.0.2' });
    const ask = (digest: string, nodeId = 'b', sessionId = b.sessionId) =>
      dispatcher!.imageSources({ nodeId, sessionId, digest }).then((r) => r.sources);
    expect(await ask(d1)).toEqual([{ nodeId: 'a', addr: '10.0.0.1:2380' }]);
    expect(await ask(d2)).toEqual([]);
    // A node never answers itself.
    expect(await ask(d1, 'a', a.sessionId)).toEqual([]);
    // b got the image and says so in a heartbeat: both are sources now (for a third node).
    await dispatcher.heartbeat({
      nodeId: 'b',
      sessionId: b.sessionId,
      images: { addr: '10.0.0.2:2380', digests: [d1, d2] },
    });
    expect(await ask(d2, 'a', a.sessionId)).toEqual([{ nodeId: 'b', addr: '10.0.0.2:2380' }]);
    // A heartbeat without images leaves them as they were.
    await dispatcher.heartbeat({ nodeId: 'b', sessionId: b.sessionId });
    expect(await ask(d2, 'a', a.sessionId)).toHaveLength(1);
    // Malformed digests are dropped, and at most MAX_HELD_IMAGES are kept.
    const many = Array.from(
      { length: MAX_HELD_IMAGES + 10 },
      (_, i) => `sha256:${i.toString(16).padStart(64, '0')}`,
    );
    await dispatcher.heartbeat({
      nodeId: 'b',
      sessionId: b.sessionId,
      images: { addr: '10.0.0.2:2380', digests: ['latest', ...many, d2] },
    });
    expect(await ask(d2, 'a', a.sessionId)).toEqual([]);
    expect(await ask(many[0]!, 'a', a.sessionId)).toHaveLength(1);
    // A node registering again replaces its session: the old one asks no more.
    await dispatcher.register({ nodeId: 'a', description: {}, addr: '10.0.0.1' });
    await expect(ask(d1, 'a', a.sessionId)).rejects.toThrow(/not current/);
    expect(await ask(d1)).toEqual([]);
  });
});
