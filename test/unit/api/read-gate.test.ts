// The API of a manager that has not caught up with the cluster yet: /_ping answers (the
// daemon is up), everything else waits for the read gate and is then served.
import { describe, expect, it } from 'vitest';
import { ReadGate } from '../../../manager/store/index.js';
import { newApi } from './helpers.js';

describe('the API behind the read gate', () => {
  it('answers /_ping at once and holds other requests until the gate opens', async () => {
    let pass!: () => void;
    const gate = new ReadGate({
      barrier: () =>
        new Promise<void>((resolve) => {
          pass = resolve;
        }),
    });
    const { app } = await newApi({ readGate: gate });
    try {
      expect((await app.inject({ method: 'GET', url: '/_ping' })).statusCode).toBe(200);
      let answered = false;
      const nodes = app.inject({ method: 'GET', url: '/v1.44/nodes' }).then((r) => {
        answered = true;
        return r;
      });
      await new Promise((r) => setTimeout(r, 50));
      expect(answered).toBe(false);
      pass();
      const r = await nodes;
      expect(r.statusCode).toBe(200);
      expect(r.json()).toHaveLength(1);
    } finally {
      gate.close();
      await app.close();
    }
  });

  it('refuses with 503 and a reason when the manager cannot catch up in time', async () => {
    const gate = new ReadGate({
      barrier: () => Promise.reject(new Error('no leader is known yet')),
      retryMs: 10_000,
      waitMs: 100,
    });
    const { app } = await newApi({ readGate: gate });
    try {
      const r = await app.inject({ method: 'GET', url: '/services' });
      expect(r.statusCode).toBe(503);
      expect(r.json().message).toMatch(/not caught up with the cluster's log yet \(no leader is known yet\)/);
    } finally {
      gate.close();
      await app.close();
    }
  });
});
