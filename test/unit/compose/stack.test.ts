import { describe, expect, it } from 'vitest';
import { loadProject, projectToStack, restartPolicy } from '../../../compose/index.js';
import { isSkiffError } from '../../../lib/index.js';
import { loadOk, withProject } from './helpers.js';

const file = [
  'name: shop',
  'services:',
  '  web:',
  '    image: nginx:1.27',
  '    entrypoint: ["/docker-entrypoint.sh"]',
  '    command: ["nginx", "-g", "daemon off;"]',
  '    env_file: [web.env]',
  '    environment: {FROM_FILE: overridden, EXTRA: "1"}',
  '    labels: {tier: web}',
  '    ports: ["8080:80", "9000-9001:9000-9001/udp", {target: 22, published: 2222, mode: host}]',
  '    volumes: ["./html:/usr/share/nginx/html:ro", "data:/data", "/anon", "ext:/ext"]',
  '    networks: {front: {aliases: [www]}, back: }',
  '    secrets: [{source: token, target: tok, mode: 0400}]',
  '    configs: [conf]',
  '    depends_on: {db: {condition: service_healthy}}',
  '    healthcheck: {test: curl -f localhost, interval: 10s, retries: 3}',
  '    init: true',
  '    deploy:',
  '      replicas: 3',
  '      labels: {svc: web}',
  '      resources: {limits: {cpus: "0.5", memory: 256m}, reservations: {memory: 64m}}',
  '      placement: {constraints: [node.role==worker], preferences: [{spread: node.labels.az}], max_replicas_per_node: 2}',
  '      update_config: {parallelism: 2, delay: 5s, order: start-first}',
  '      endpoint_mode: vip',
  '    ulimits: {nofile: {soft: 1000, hard: 2000}}',
  '    extra_hosts: ["db.local:10.0.0.2"]',
  '  db:',
  '    image: postgres:16',
  '    restart: on-failure:4',
  '    deploy: {mode: global}',
  '    networks: [back]',
  '  migrate:',
  '    image: app',
  '    deploy: {mode: replicated-job, replicas: 2}',
  '    network_mode: none',
  'networks:',
  '  front: {driver: overlay, attachable: true, labels: {a: b}}',
  '  back:',
  '    external: true',
  '    name: shared-back',
  'volumes:',
  '  data: {driver: local, driver_opts: {type: tmpfs}}',
  '  ext: {external: true}',
  'secrets:',
  '  token: {file: ./token.txt}',
  'configs:',
  '  conf: {environment: CONF}',
  '',
].join('\n');

describe('projectToStack', () => {
  it('produces Docker-API-shaped specs', async () => {
    await withProject(
      { 'compose.yaml': file, 'web.env': 'FROM_FILE=file\nONLY_FILE=yes\n', 'token.txt': 's3cret' },
      async (dir) => {
        const r = await loadProject({ files: [`${dir}/compose.yaml`], env: { CONF: 'conf-data' } });
        if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
        const stack = projectToStack(r.project);
        expect(stack.namespace).toBe('shop');
        expect(stack.services.map((s) => s.Name)).toEqual(['shop_db', 'shop_migrate', 'shop_web']);
        const web = stack.services.find((s) => s.Name === 'shop_web')!;
        const cs = web.TaskTemplate!.ContainerSpec!;
        expect(web.Labels).toEqual({
          svc: 'web',
          'com.docker.stack.namespace': 'shop',
          'com.docker.stack.image': 'nginx:1.27',
        });
        expect(cs.Labels).toEqual({ tier: 'web', 'com.docker.stack.namespace': 'shop' });
        expect(cs.Command).toEqual(['/docker-entrypoint.sh']);
        expect(cs.Args).toEqual(['nginx', '-g', 'daemon off;']);
        expect(cs.Env).toEqual(['EXTRA=1', 'FROM_FILE=overridden', 'ONLY_FILE=yes']);
        expect(cs.Init).toBe(true);
        expect(cs.Hosts).toEqual(['10.0.0.2 db.local']);
        expect(cs.Ulimits).toEqual([{ Name: 'nofile', Soft: 1000, Hard: 2000 }]);
        expect(cs.HealthCheck).toEqual({
          Test: ['CMD-SHELL', 'curl -f localhost'],
          Interval: 10e9,
          Retries: 3,
        });
        expect(cs.Mounts).toEqual([
          { Type: 'bind', Source: `${dir}/html`, Target: '/usr/share/nginx/html', ReadOnly: true },
          {
            Type: 'volume',
            Source: 'shop_data',
            Target: '/data',
            VolumeOptions: {
              Labels: { 'com.docker.stack.namespace': 'shop' },
              DriverConfig: { Name: 'local', Options: { type: 'tmpfs' } },
            },
          },
          { Type: 'volume', Target: '/anon' },
          { Type: 'volume', Source: 'ext', Target: '/ext' },
        ]);
        expect(cs.Secrets).toEqual([
          { File: { Name: 'tok', UID: '0', GID: '0', Mode: 0o400 }, SecretID: '', SecretName: 'shop_token' },
        ]);
        expect(cs.Configs).toEqual([
          { File: { Name: '/conf', UID: '0', GID: '0', Mode: 0o444 }, ConfigID: '', ConfigName: 'shop_conf' },
        ]);
        expect(web.Mode).toEqual({ Replicated: { Replicas: 3 } });
        expect(web.TaskTemplate!.Resources).toEqual({
          Limits: { NanoCPUs: 5e8, MemoryBytes: 256 * 1024 ** 2 },
          Reservations: { MemoryBytes: 64 * 1024 ** 2 },
        });
        expect(web.TaskTemplate!.Placement).toEqual({
          Constraints: ['node.role==worker'],
          Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.az' } }],
          MaxReplicas: 2,
        });
        expect(web.TaskTemplate!.Networks).toEqual([
          { Target: 'shared-back', Aliases: ['web'] },
          { Target: 'shop_front', Aliases: ['web', 'www'] },
        ]);
        expect(web.UpdateConfig).toEqual({ Parallelism: 2, Delay: 5e9, Order: 'start-first' });
        expect(web.EndpointSpec).toEqual({
          Mode: 'vip',
          Ports: [
            { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
            { Protocol: 'udp', TargetPort: 9000, PublishedPort: 9000, PublishMode: 'ingress' },
            { Protocol: 'udp', TargetPort: 9001, PublishedPort: 9001, PublishMode: 'ingress' },
            { Protocol: 'tcp', TargetPort: 22, PublishedPort: 2222, PublishMode: 'host' },
          ],
        });
        const db = stack.services.find((s) => s.Name === 'shop_db')!;
        expect(db.Mode).toEqual({ Global: {} });
        expect(db.TaskTemplate!.RestartPolicy).toEqual({ Condition: 'on-failure', MaxAttempts: 4 });
        const migrate = stack.services.find((s) => s.Name === 'shop_migrate')!;
        expect(migrate.Mode).toEqual({ ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 2 } });
        expect(migrate.TaskTemplate!.Networks).toBeUndefined();

        expect(stack.networks).toEqual([
          {
            name: 'shop_front',
            spec: {
              Name: 'shop_front',
              Driver: 'overlay',
              Scope: 'swarm',
              Attachable: true,
              Labels: { a: 'b', 'com.docker.stack.namespace': 'shop' },
            },
          },
        ]);
        expect(stack.volumes).toEqual([
          {
            name: 'shop_data',
            driver: 'local',
            driverOpts: { type: 'tmpfs' },
            labels: { 'com.docker.stack.namespace': 'shop' },
          },
        ]);
        expect(stack.secrets).toEqual([
          {
            name: 'shop_token',
            spec: {
              Name: 'shop_token',
              Labels: { 'com.docker.stack.namespace': 'shop' },
              Data: Buffer.from('s3cret').toString('base64'),
            },
          },
        ]);
        expect(stack.configs[0]!.spec.Data).toBe(Buffer.from('conf-data').toString('base64'));
        expect(stack.dependsOn.web).toEqual([
          { service: 'db', condition: 'service_healthy', required: true, restart: false },
        ]);
        expect(stack.compose.web!.init).toBe(true);
      },
    );
  });

  it('reads raw env files literally, label files under labels, and tmpfs sizes', async () => {
    await withProject(
      {
        'compose.yaml':
          'services:\n  a:\n    image: x\n    env_file: [{path: raw.env, format: raw}]\n    label_file: labels.txt\n    labels: {b: from-labels}\n    tmpfs: ["/run:size=64m,mode=1777"]\n',
        'raw.env': 'Q="kept quotes"\nD=$HOME\n',
        'labels.txt': 'a=from-file\nb=from-file\n',
      },
      async (dir) => {
        const r = await loadProject({ files: [`${dir}/compose.yaml`], env: {} });
        if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
        const cs = projectToStack(r.project).services[0]!.TaskTemplate!.ContainerSpec!;
        expect(cs.Env).toEqual(['D=$HOME', 'Q="kept quotes"']);
        expect(cs.Mounts).toEqual([
          { Type: 'tmpfs', Target: '/run', TmpfsOptions: { SizeBytes: 64 * 1024 ** 2 } },
        ]);
        expect(cs.Labels).toEqual({
          a: 'from-file',
          b: 'from-labels',
          'com.docker.stack.namespace': expect.any(String),
        });
      },
    );
  });

  it('maps restart like docker', () => {
    const s = (restart: string) => restartPolicy({ name: 'x', restart });
    expect(s('no')).toEqual({ Condition: 'none' });
    expect(s('always')).toEqual({ Condition: 'any' });
    expect(s('unless-stopped')).toEqual({ Condition: 'any' });
    expect(s('on-failure')).toEqual({ Condition: 'on-failure' });
    expect(s('on-failure:5')).toEqual({ Condition: 'on-failure', MaxAttempts: 5 });
  });

  it('fails with a clear error when a required env_file or secret file is missing', async () => {
    const { project } = await loadOk({
      'compose.yaml':
        'services:\n  a: {image: x, env_file: [missing.env], secrets: [s]}\nsecrets:\n  s: {file: ./nope}\n',
    });
    let err: unknown;
    try {
      projectToStack(project);
    } catch (e) {
      err = e;
    }
    expect(isSkiffError(err) && err.code).toBe('invalid_argument');
    expect(String((err as Error).message)).toMatch(/cannot read .*nope|env_file .*missing\.env/);
  });
});
