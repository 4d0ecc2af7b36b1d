// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose files use ${VAR} syntax, which these tests feed in and expect back as written
// The service page's "spec as written" (dashboard/model/spec.ts): a stack service's
// compose text from its label; an API-made service's fields without Docker's defaults.
import { describe, expect, it } from 'vitest';
import { fieldsSet, toYaml, writtenSpec } from '../../../dashboard/model/index.js';
import {
  COMPOSE_SOURCE_LABEL,
  encodeComposeSource,
  type Service,
  type ServiceSpec,
  SPEC_HASH_LABEL,
} from '../../../lib/index.js';

const service = (Spec: ServiceSpec): Service => ({
  ID: 's1',
  Version: { Index: 1 },
  CreatedAt: '',
  UpdatedAt: '',
  Spec,
});

// What `docker service create --name web --replicas 2 --network front --env A=1 nginx`
// sends (Docker 28: empty objects, `Init: false`, `EndpointSpec.Mode: vip`; older clients
// also sent the update, rollback and restart defaults), with the node's additions.
const fromDockerCli: ServiceSpec = {
  Name: 'web',
  Labels: {},
  TaskTemplate: {
    ContainerSpec: {
      Image: 'nginx:1.27',
      Env: ['A=1'],
      Init: false,
      StopGracePeriod: 10_000_000_000,
      DNSConfig: {},
      Isolation: 'default',
    },
    Resources: { Limits: {}, Reservations: {} },
    RestartPolicy: { Condition: 'any', Delay: 5_000_000_000, MaxAttempts: 0 },
    Placement: {},
    Networks: [{ Target: 'n0123', Aliases: [] }],
    ForceUpdate: 0,
    Runtime: 'container',
  },
  Mode: { Replicated: { Replicas: 2 } },
  UpdateConfig: {
    Parallelism: 1,
    FailureAction: 'pause',
    Monitor: 5_000_000_000,
    MaxFailureRatio: 0,
    Order: 'stop-first',
  },
  RollbackConfig: {
    Parallelism: 1,
    FailureAction: 'pause',
    Monitor: 5_000_000_000,
    MaxFailureRatio: 0,
    Order: 'stop-first',
  },
  EndpointSpec: { Mode: 'vip' },
};

describe('writtenSpec', () => {
  it("shows a stack service's compose sections from its label", () => {
    const parts = [{ file: 'compose.yaml', line: 4, text: '  web:\n    image: nginx:${TAG}' }];
    const s = service({ Name: 'shop_web', Labels: { [COMPOSE_SOURCE_LABEL]: encodeComposeSource(parts) } });
    expect(writtenSpec(s)).toEqual({ kind: 'compose', parts });
  });

  it('shows only the fields an API-made service set, networks by name', () => {
    const got = writtenSpec(service(fromDockerCli), new Map([['n0123', 'front']]));
    expect(got).toEqual({
      kind: 'fields',
      text: [
        'Name: web',
        'TaskTemplate:',
        '  ContainerSpec:',
        '    Image: nginx:1.27',
        '    Env:',
        '      - A=1',
        '  Networks:',
        '    - Target: front',
        'Mode:',
        '  Replicated:',
        '    Replicas: 2',
      ].join('\n'),
    });
  });

  it('keeps a value that differs from the default, zero replicas included, and drops skiff’s own labels', () => {
    const got = fieldsSet({
      ...fromDockerCli,
      Labels: { team: 'a', [SPEC_HASH_LABEL]: 'abc' },
      Mode: { Replicated: { Replicas: 0 } },
      UpdateConfig: { Parallelism: 0, Order: 'start-first', Monitor: 5_000_000_000 },
    });
    expect(got).toMatchObject({
      Labels: { team: 'a' },
      Mode: { Replicated: { Replicas: 0 } },
      UpdateConfig: { Parallelism: 0, Order: 'start-first' },
    });
    expect((got as ServiceSpec).UpdateConfig).not.toHaveProperty('Monitor');
    expect((got as ServiceSpec).Labels).not.toHaveProperty(SPEC_HASH_LABEL);
  });

  it('falls back to the fields, saying why, when the label is malformed', () => {
    const got = writtenSpec(service({ Name: 'x', Labels: { [COMPOSE_SOURCE_LABEL]: '{' } }));
    expect(got).toMatchObject({
      kind: 'fields',
      text: 'Name: x',
      problem: expect.stringMatching(/not JSON/),
    });
  });
});

describe('toYaml', () => {
  it('quotes what YAML would misread', () => {
    expect(toYaml({ a: 'yes', b: '8080:80', c: '- x', d: 'plain text', e: '', f: ['1', 2] })).toBe(
      ['a: "yes"', 'b: "8080:80"', 'c: "- x"', 'd: plain text', 'e: ""', 'f:', '  - "1"', '  - 2'].join('\n'),
    );
  });
});
