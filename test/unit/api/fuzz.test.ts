// 5,000 random and mutated bodies per write endpoint: a client's bad input gets a 4xx,
// never a 5xx, and a rejected request changes nothing (no proposal, no applied entry).
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../../manager/index.js';
import { type CountingReplicator, NODE_ID, newApi, serviceBody } from './helpers.js';

const RUNS = 5000;

let app: FastifyInstance;
let store: Store;
let replicator: CountingReplicator;

beforeAll(async () => {
  ({ app, store, replicator } = await newApi());
  await app.inject({ method: 'POST', url: '/services/create', payload: serviceBody('target') });
  await app.inject({ method: 'POST', url: '/secrets/create', payload: { Name: 'sec', Data: 'eA==' } });
  await app.inject({ method: 'POST', url: '/configs/create', payload: { Name: 'cfg', Data: 'eA==' } });
  await app.inject({ method: 'POST', url: '/networks/create', payload: { Name: 'net', Driver: 'overlay' } });
});
afterAll(async () => {
  await app.close();
});

const json = fc.jsonValue({ maxDepth: 4 });

/** A valid body with one part replaced, removed, or a random key added somewhere. */
function mutated(valid: Record<string, unknown>): fc.Arbitrary<unknown> {
  const paths = collectPaths(valid);
  return fc.oneof(
    fc.tuple(fc.constantFrom(...paths), json).map(([p, v]) => setAt(valid, p, v)),
    fc
      .tuple(
        fc.constantFrom(...paths),
        fc.constantFrom(null, -1, 1e308, '', 'x'.repeat(70), [], {}, true, '\u0000'),
      )
      .map(([p, v]) => setAt(valid, p, v)),
    fc.constantFrom(...paths).map((p) => setAt(valid, p, undefined)),
    fc.tuple(fc.constantFrom(...paths), fc.string({ maxLength: 12 }), json).map(([p, k, v]) => {
      const parent = p.slice(0, -1);
      return setAt(valid, [...parent, k], v);
    }),
  );
}

type Path = (string | number)[];
function collectPaths(v: unknown, prefix: Path = []): Path[] {
  const out: Path[] = prefix.length > 0 ? [prefix] : [];
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) out.push(...collectPaths(x, [...prefix, i]));
  } else if (typeof v === 'object' && v !== null)
    for (const [k, x] of Object.entries(v)) out.push(...collectPaths(x, [...prefix, k]));
  return out;
}
function setAt(root: unknown, path: Path, value: unknown): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let cur = copy;
  for (const k of path.slice(0, -1)) {
    const next = cur[k];
    if (typeof next !== 'object' || next === null) return copy;
    cur = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1];
  if (last === undefined) return value;
  // A named key on an array is not JSON (and `length` would resize it): nothing to set.
  if (Array.isArray(cur) && typeof last === 'string') return copy;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
  return copy;
}

/** Raw payloads: random JSON, random text (mostly not JSON), or a mutated valid body. */
function bodies(valid: Record<string, unknown>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 2, arbitrary: json.map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')) },
    { weight: 6, arbitrary: mutated(valid).map((v) => JSON.stringify(v) ?? '') },
  );
}

interface Endpoint {
  name: string;
  url: () => string;
  valid: Record<string, unknown>;
}

const version = (v: { Version: { Index: number } } | undefined) => v?.Version.Index ?? 0;

const endpoints: Endpoint[] = [
  {
    name: 'POST /services/create',
    url: () => '/v1.44/services/create',
    valid: serviceBody('fz', {
      Labels: { a: 'b' },
      TaskTemplate: {
        ContainerSpec: {
          Image: 'busybox',
          Args: ['sleep', '1'],
          Env: ['A=1'],
          Mounts: [{ Type: 'tmpfs', Target: '/t' }],
        },
        RestartPolicy: { Condition: 'any', Delay: 1e9 },
        Placement: { Constraints: ['node.role==manager'] },
        Networks: [{ Target: 'net' }],
      },
      UpdateConfig: { Parallelism: 1, FailureAction: 'pause', Order: 'stop-first' },
      EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080 }] },
    }),
  },
  {
    name: 'POST /services/{id}/update',
    url: () => `/services/target/update?version=${version(store.getService('target'))}`,
    valid: serviceBody('target', {
      Mode: { Replicated: { Replicas: 3 } },
      TaskTemplate: { ContainerSpec: { Image: 'busybox:2' } },
    }),
  },
  {
    name: 'POST /networks/create',
    url: () => '/networks/create',
    valid: {
      Name: 'fz',
      Driver: 'overlay',
      Attachable: true,
      IPAM: { Driver: 'default', Config: [{ Subnet: '10.9.0.0/24', Gateway: '10.9.0.1' }] },
      Labels: { a: 'b' },
    },
  },
  {
    name: 'POST /secrets/create',
    url: () => '/secrets/create',
    valid: { Name: 'fz', Data: 'aGVsbG8=', Labels: { a: 'b' } },
  },
  {
    name: 'POST /secrets/{id}/update',
    url: () => `/secrets/sec/update?version=${version(store.getSecret('sec'))}`,
    valid: { Name: 'sec', Labels: { a: 'b' } },
  },
  {
    name: 'POST /configs/create',
    url: () => '/configs/create',
    valid: { Name: 'fz', Data: 'aGVsbG8=', Labels: { a: 'b' } },
  },
  {
    name: 'POST /configs/{id}/update',
    url: () => `/configs/cfg/update?version=${version(store.getConfig('cfg'))}`,
    valid: { Name: 'cfg', Labels: { a: 'b' } },
  },
  {
    name: 'POST /nodes/{id}/update',
    url: () => `/nodes/${NODE_ID}/update?version=${version(store.getNode(NODE_ID))}`,
    valid: { Role: 'manager', Availability: 'active', Labels: { a: 'b' } },
  },
  {
    name: 'POST /swarm/update',
    url: () => `/swarm/update?version=${version(store.getCluster())}`,
    valid: {
      Name: 'default',
      Orchestration: { TaskHistoryRetentionLimit: 5 },
      Dispatcher: { HeartbeatPeriod: 5e9 },
      CAConfig: { NodeCertExpiry: 1e15 },
    },
  },
];

describe('API fuzzing', () => {
  for (const ep of endpoints) {
    it(`${ep.name}: ${RUNS} random and mutated bodies give 4xx or success, never 5xx; rejections change nothing`, async () => {
      let rejected = 0;
      await fc.assert(
        fc.asyncProperty(bodies(ep.valid), async (payload) => {
          const before = { proposals: replicator.proposals, applied: store.appliedIndex };
          const r = await app.inject({
            method: 'POST',
            url: ep.url(),
            payload,
            headers: { 'content-type': 'application/json' },
          });
          expect(r.statusCode, `${r.statusCode} ${r.body} for ${payload.slice(0, 300)}`).toBeLessThan(500);
          if (r.statusCode >= 400) {
            rejected++;
            expect(typeof (r.json() as { message?: unknown }).message).toBe('string');
            expect({ proposals: replicator.proposals, applied: store.appliedIndex }).toEqual(before);
          } else {
            // Keep the state small and the names free: undo what a create made.
            const created = r.statusCode === 201 ? (r.json() as { ID?: string; Id?: string }) : {};
            const id = created.ID ?? created.Id;
            if (id) {
              const table = ep.name.includes('services')
                ? 'services'
                : ep.name.includes('networks')
                  ? 'networks'
                  : ep.name.includes('secrets')
                    ? 'secrets'
                    : 'configs';
              await store.update((tx) => tx.delete(table, id));
            }
          }
        }),
        { numRuns: RUNS },
      );
      // Most inputs must be rejections, or the fuzzer is not exercising the validation.
      expect(rejected).toBeGreaterThan(RUNS / 10);
    }, 120_000);
  }

  it('the valid bodies the fuzzer mutates are accepted', async () => {
    for (const ep of endpoints) {
      const r = await app.inject({
        method: 'POST',
        url: ep.url(),
        payload: JSON.stringify(ep.valid),
        headers: { 'content-type': 'application/json' },
      });
      expect(r.statusCode, `${ep.name}: ${r.body}`).toBeLessThan(300);
    }
  });
});
