// 5,000 generated `POST /containers/create` bodies against a real node (fast-check,
// seeded): every answer is a 201 or a 4xx, never a 5xx; what was created is removed,
// and the node is left with no container, network or volume.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBusybox, socketApi, type TestNode, testNode } from '../../support/skiff-node/index.js';

const IMAGE = 'localhost/dk-fuzz:1';
const RUNS = 5000;

let node: TestNode;
let dir: string;
let sock: string;

beforeAll(async () => {
  node = testNode();
  dir = mkdtempSync(join(tmpdir(), 'skiff-dkfuzz-'));
  const imp = await importBusybox(node, dir, 'fuzz\n', IMAGE);
  expect(imp.code, imp.stderr).toBe(0);
  sock = join(node.runDir, 'skiff.sock');
}, 120_000);

afterAll(async () => {
  if (node) await node.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

const anyJson = fc.jsonValue({ maxDepth: 3 });
const strings = fc.array(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('sh', '-c', 'true')), {
  maxLength: 4,
});
/** Fields as clients send them, each sometimes of the wrong type or an unknown value. */
const body = fc.record(
  {
    Image: fc.oneof(
      fc.constant(IMAGE),
      fc.constant('localhost/missing:1'),
      fc.string({ maxLength: 20 }),
      anyJson,
    ),
    Cmd: fc.oneof(strings, fc.constant(null), anyJson),
    Entrypoint: fc.oneof(strings, fc.constant(null), anyJson),
    Env: fc.oneof(fc.array(fc.string({ maxLength: 16 }), { maxLength: 3 }), anyJson),
    Labels: fc.oneof(
      fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
      anyJson,
    ),
    WorkingDir: fc.oneof(fc.constantFrom('', '/', '/tmp', 'relative'), anyJson),
    User: fc.oneof(fc.constantFrom('', 'root', '0:0', 'nobody'), anyJson),
    Volumes: fc.oneof(
      fc.dictionary(fc.constantFrom('/data', 'fzv:/data', '/x:/y:ro', ':'), fc.constant({})),
      anyJson,
    ),
    ExposedPorts: fc.oneof(
      fc.dictionary(fc.constantFrom('80/tcp', '53/udp', 'x', '70000/tcp'), fc.constant({})),
      anyJson,
    ),
    StopTimeout: fc.oneof(fc.integer({ min: -5, max: 100 }), anyJson),
    HostConfig: fc.oneof(
      fc.record(
        {
          NetworkMode: fc.oneof(
            fc.constantFrom('default', 'bridge', 'none', 'host', 'nosuchnet', 'container:x'),
            anyJson,
          ),
          PortBindings: fc.oneof(
            fc.dictionary(
              fc.constantFrom('80/tcp', '53/udp', 'bogus', '0/tcp'),
              fc.array(
                fc.record({
                  HostIp: fc.constantFrom('', '127.0.0.1', 'x'),
                  HostPort: fc.constantFrom('', '0', '70000', 'a', '1-2'),
                }),
                { maxLength: 2 },
              ),
            ),
            anyJson,
          ),
          Binds: fc.oneof(
            fc.array(fc.constantFrom('fzv:/data', '/tmp:/h:ro', 'rel', 'a:b:c:d', 'fzv:/d:zz'), {
              maxLength: 2,
            }),
            anyJson,
          ),
          AutoRemove: fc.oneof(fc.boolean(), anyJson),
          PublishAllPorts: fc.oneof(fc.boolean(), anyJson),
          RestartPolicy: fc.oneof(fc.record({ Name: fc.constantFrom('', 'no', 'always') }), anyJson),
          Privileged: fc.boolean(),
        },
        { requiredKeys: [] },
      ),
      anyJson,
    ),
    NetworkingConfig: fc.oneof(
      fc.record({
        EndpointsConfig: fc.dictionary(
          fc.constantFrom('bridge', 'default', 'none', 'host', 'nosuchnet'),
          fc.oneof(fc.record({ Aliases: fc.oneof(strings, anyJson) }, { requiredKeys: [] }), anyJson),
          { maxKeys: 2 },
        ),
      }),
      anyJson,
    ),
    Tty: fc.boolean(),
  },
  { requiredKeys: [] },
);

describe('POST /containers/create, fuzzed', () => {
  it(`${RUNS} generated bodies: never a 5xx, and nothing is left behind`, async () => {
    const created: string[] = [];
    const seen = new Map<number, number>();
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof({ weight: 9, arbitrary: body }, { weight: 1, arbitrary: anyJson }),
          async (b) => {
            const r = await socketApi(sock, 'the node', 'POST', '/containers/create', b, 30_000);
            seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
            if (r.status === 201) created.push((r.json as { Id: string }).Id);
            expect(r.status, JSON.stringify({ body: b, answer: r.json })).toBeLessThan(500);
          },
        ),
        { numRuns: RUNS, seed: 22, endOnFailure: true },
      );
    } finally {
      for (const id of created)
        await socketApi(sock, 'the node', 'DELETE', `/containers/${id}?force=1`, undefined, 30_000);
      // Named volumes a body made on first use go too.
      await socketApi(sock, 'the node', 'DELETE', '/volumes/fzv?force=1', undefined, 30_000);
    }
    // Some bodies were created, most refused: the generator reaches both sides.
    expect(seen.get(201) ?? 0).toBeGreaterThan(0);
    expect(seen.get(400) ?? 0).toBeGreaterThan(RUNS / 2);
    const left = await socketApi(sock, 'the node', 'GET', '/containers/json?all=1');
    expect(left.json).toEqual([]);
    const nets = (await socketApi(sock, 'the node', 'GET', '/networks?filters={"scope":["local"]}')).json as {
      Name: string;
    }[];
    expect(nets.map((n) => n.Name).sort()).toEqual(['bridge', 'none']);
    expect((await socketApi(sock, 'the node', 'GET', '/volumes')).json).toMatchObject({ Volumes: [] });
  }, 180_000);
});
