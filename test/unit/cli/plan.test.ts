// The deploy plan (cli/plan.ts): what a stack deploy creates, updates field by field,
// rotates or removes, from the stack and the cluster's objects alone; a re-deploy of the
// same file plans no change whatever the manager filled in.
import { describe, expect, it } from 'vitest';
import { type ClusterObjects, planStack, type StackLike, specHash, withIds } from '../../../cli/plan.js';
import { planJson, planText } from '../../../cli/plan-report.js';
import {
  COMPOSE_SOURCE_LABEL,
  CONTENT_HASH_LABEL,
  type Service,
  type ServiceSpec,
  SPEC_HASH_LABEL,
  STACK_NAMESPACE_LABEL,
  VERSION_OF_LABEL,
} from '../../../lib/index.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function stack(env: string[] = ['GREETING=hello'], secret = 'pw1'): StackLike {
  return {
    namespace: 'app',
    networks: [{ name: 'app_default', spec: { Name: 'app_default', Driver: 'overlay' } }],
    secrets: [
      {
        name: 'app_db',
        spec: { Name: 'app_db', Data: b64(secret), Labels: { [STACK_NAMESPACE_LABEL]: 'app' } },
      },
    ],
    configs: [],
    services: [
      {
        Name: 'app_web',
        Labels: { [STACK_NAMESPACE_LABEL]: 'app' },
        TaskTemplate: {
          ContainerSpec: {
            Image: 'busybox',
            Env: env,
            Secrets: [
              {
                File: { Name: 'db', UID: '0', GID: '0', Mode: 0o444 },
                SecretID: '',
                SecretName: 'app_db',
              },
            ],
          },
          Networks: [{ Target: 'app_default' }],
        },
      },
    ],
  };
}

const empty: ClusterObjects = { networks: [], secrets: [], configs: [], services: [] };

/** The cluster after deploying `s` as `deployStack` does, with what the manager fills in. */
function deployed(s: StackLike): ClusterObjects {
  const plan = planStack(s, empty);
  const secrets = plan.secrets.map((v, i) => ({ ID: `sec${i}`, Spec: v.spec }));
  const networks = plan.networks.map((n, i) => ({ Name: n.name, Id: `net${i}` }));
  const ids = new Map(secrets.map((x) => [x.Spec.Name ?? '', x.ID]));
  const services: Service[] = plan.services.map((p, i) => {
    const sent = withIds(p.spec ?? {}, ids, new Map());
    sent.Labels = { ...sent.Labels, [SPEC_HASH_LABEL]: specHash(sent) };
    // The manager's additions: network IDs, a default mode, ForceUpdate, versions.
    const stored: ServiceSpec = {
      ...sent,
      Mode: { Replicated: { Replicas: 1 } },
      TaskTemplate: {
        ...sent.TaskTemplate,
        ForceUpdate: 0,
        Networks: [{ Target: networks[0]?.Id ?? '' }],
      },
    };
    return { ID: `svc${i}`, Version: { Index: 7 }, CreatedAt: '', UpdatedAt: '', Spec: stored };
  });
  return { networks, secrets, configs: [], services };
}

describe('planStack', () => {
  it('lists a new stack as creations', () => {
    const plan = planStack(stack(), empty);
    expect(plan.changes).toBe(true);
    expect(plan.networks).toMatchObject([{ name: 'app_default', action: 'create' }]);
    expect(plan.secrets).toMatchObject([
      { name: 'app_db', version: 'app_db', action: 'create', retired: [] },
    ]);
    expect(plan.services).toMatchObject([{ service: 'app_web', action: 'create' }]);
    expect(plan.secrets[0]?.spec.Labels).toMatchObject({
      [STACK_NAMESPACE_LABEL]: 'app',
      [VERSION_OF_LABEL]: 'app_db',
      [CONTENT_HASH_LABEL]: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(planText(plan)).toContain('+ service app_web');
  });

  it('plans no change for a re-deploy of the same file', () => {
    const plan = planStack(stack(), deployed(stack()));
    expect(plan.changes).toBe(false);
    expect(plan.services.map((s) => s.action)).toEqual(['unchanged']);
    expect(planText(plan)).toBe('Stack app: no changes.\n');
  });

  it("plans no change when only the file's text (comments, layout) changed, and keeps a pre-label service's hash", () => {
    const withText = (text: string): StackLike => {
      const s = stack();
      const [svc] = s.services;
      return { ...s, services: [{ ...svc, Labels: { ...svc?.Labels, [COMPOSE_SOURCE_LABEL]: text } }] };
    };
    const v1 = deployed(withText('web:\n  image: busybox'));
    const plan = planStack(withText('# the front end\nweb:\n    image: busybox   # pinned later'), v1);
    expect(plan.changes).toBe(false);
    expect(plan.services.map((s) => s.action)).toEqual(['unchanged']);
    // Deployed before the label existed: same hash, so no update just to add the text.
    expect(planStack(withText('web:\n  image: busybox'), deployed(stack())).changes).toBe(false);
    // A real change still diffs without the text label in it.
    const changed = withText('web: {}');
    changed.services[0]!.TaskTemplate!.ContainerSpec!.Env = ['GREETING=bye'];
    expect(planStack(changed, v1).services[0]?.diff).toEqual([
      { path: 'TaskTemplate.ContainerSpec.Env[GREETING]', from: 'hello', to: 'bye' },
    ]);
  });

  it('shows a changed variable, and only it, ignoring what the manager filled in', () => {
    const plan = planStack(stack(['GREETING=bye', 'NEW=1']), deployed(stack()));
    expect(plan.changes).toBe(true);
    const [svc] = plan.services;
    expect(svc?.action).toBe('update');
    expect(svc?.diff).toEqual([
      { path: 'TaskTemplate.ContainerSpec.Env[GREETING]', from: 'hello', to: 'bye' },
      { path: 'TaskTemplate.ContainerSpec.Env[NEW]', to: '1' },
    ]);
    expect(planText(plan)).toContain('~ TaskTemplate.ContainerSpec.Env[GREETING]: "hello" => "bye"');
    expect(planJson(plan)).toMatchObject({
      changes: true,
      services: [{ service: 'app_web', action: 'update' }],
    });
  });

  it('rotates a changed secret to a new version at the same target, retiring the old one', () => {
    const plan = planStack(stack(undefined, 'pw2'), deployed(stack()));
    const [sec] = plan.secrets;
    expect(sec?.action).toBe('rotate');
    expect(sec?.version).toMatch(/^app_db-[0-9a-f]{12}$/);
    expect(sec?.retired).toEqual([{ name: 'app_db', id: 'sec0' }]);
    const [svc] = plan.services;
    expect(svc?.action).toBe('update');
    expect(svc?.spec?.TaskTemplate?.ContainerSpec?.Secrets).toEqual([
      { File: { Name: 'db', UID: '0', GID: '0', Mode: 0o444 }, SecretID: '', SecretName: sec?.version },
    ]);
    expect(svc?.diff).toEqual([
      { path: 'TaskTemplate.ContainerSpec.Secrets[db].SecretName', from: 'app_db', to: sec?.version },
    ]);
  });

  it('goes back to a version that still exists, and plans no change once the old one is gone', () => {
    const v1 = deployed(stack());
    const rotated = planStack(stack(undefined, 'pw2'), v1);
    const v2: ClusterObjects = {
      ...v1,
      secrets: [...v1.secrets, { ID: 'sec9', Spec: rotated.secrets[0]?.spec ?? {} }],
    };
    const back = planStack(stack(), v2);
    expect(back.secrets[0]).toMatchObject({ action: 'unchanged', version: 'app_db', id: 'sec0' });
    expect(back.secrets[0]?.retired.map((r) => r.id)).toEqual(['sec9']);
    const settled = planStack(stack(undefined, 'pw2'), { ...v2, secrets: v2.secrets.slice(1) });
    expect(settled.secrets[0]).toMatchObject({ action: 'unchanged', retired: [] });
  });

  it('rotates a secret made before versions had labels once, and keeps an unlabelled config of the same content', () => {
    const legacy = { ID: 'old', Spec: { Name: 'app_db', Labels: { [STACK_NAMESPACE_LABEL]: 'app' } } };
    const plan = planStack(stack(), { ...empty, secrets: [legacy] });
    expect(plan.secrets[0]).toMatchObject({ action: 'rotate', retired: [{ name: 'app_db', id: 'old' }] });
    const withConfig: StackLike = {
      ...stack(),
      configs: [{ name: 'app_conf', spec: { Name: 'app_conf', Data: b64('x') } }],
    };
    const keep = planStack(withConfig, {
      ...empty,
      configs: [{ ID: 'c1', Spec: { Name: 'app_conf', Data: b64('x') } }],
    });
    expect(keep.configs[0]).toMatchObject({ action: 'unchanged', id: 'c1', retired: [] });
  });

  it('removes services the file no longer has only when pruning', () => {
    const cluster = deployed(stack());
    const none: StackLike = { ...stack(), services: [] };
    expect(planStack(none, cluster).services).toEqual([]);
    expect(planStack(none, cluster, { prune: true }).services).toMatchObject([
      { service: 'app_web', action: 'remove' },
    ]);
  });

  it('refuses an external object that does not exist', () => {
    const s: StackLike = { ...stack(), secrets: [{ name: 'shared', spec: {}, external: true }] };
    expect(() => planStack(s, empty)).toThrow(/secret "shared" is declared as external/);
  });
});
