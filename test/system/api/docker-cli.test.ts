// The real docker CLI (Docker 28 client) against a skiff manager on a unix socket.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Manager } from '../../../manager/index.js';
import { runCommand } from '../../lab/command.js';
import { waitFor } from '../../lab/wait.js';

// The Docker 28 client on the test machines; Debian's docker.io puts one on PATH.
const DOCKER = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker';

let dir: string;
let manager: Manager;

async function docker(args: string[], opts: { input?: string; cwd?: string } = {}) {
  const r = await runCommand(DOCKER, args, {
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      DOCKER_HOST: `unix://${join(dir, 'skiff.sock')}`,
      DOCKER_CONFIG: join(dir, 'docker-config'),
    },
    timeoutMs: 30_000,
    ...opts,
  });
  return { ...r, out: r.stdout.trim() };
}

async function ok(args: string[], opts: { input?: string; cwd?: string } = {}) {
  const r = await docker(args, opts);
  expect(r.code, `docker ${args.join(' ')} failed: ${r.stderr}`).toBe(0);
  return r.out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skiff-api-'));
  manager = await Manager.start({
    stateDir: join(dir, 'state'),
    socketPath: join(dir, 'skiff.sock'),
    hostname: 'skiff-test-node',
    version: '0.1.0-test',
  });
});

afterAll(async () => {
  await manager?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('docker CLI against the skiff manager', () => {
  it('negotiates the API version', async () => {
    const v = JSON.parse(await ok(['version', '--format', '{{json .Server}}'])) as {
      ApiVersion: string;
      MinAPIVersion: string;
    };
    expect(v.ApiVersion).toBe('1.44');
    expect(v.MinAPIVersion).toBe('1.24');
  });

  it('docker info shows an active swarm with this node as manager', async () => {
    const out = await ok(['info']);
    expect(out).toContain('Swarm: active');
    expect(out).toContain(`NodeID: ${manager.nodeId}`);
    expect(out).toContain('Is Manager: true');
    expect(out).toContain('Managers: 1');
  });

  it('docker node ls and node inspect self show the leader manager', async () => {
    const ls = await ok(['node', 'ls']);
    expect(ls).toMatch(new RegExp(`${manager.nodeId} \\*\\s+skiff-test-node\\s+Ready\\s+Active\\s+Leader`));
    const [self] = JSON.parse(await ok(['node', 'inspect', 'self'])) as {
      ID: string;
      ManagerStatus: { Leader: boolean };
    }[];
    expect(self?.ID).toBe(manager.nodeId);
    expect(self?.ManagerStatus.Leader).toBe(true);
  });

  it('creates, lists, inspects, updates and removes a service', async () => {
    const id = await ok([
      'service',
      'create',
      '--detach',
      '--name',
      'web',
      '--replicas',
      '3',
      'busybox',
      'sleep',
      '1000',
    ]);
    expect(id).toMatch(/^[0-9a-z]{25}$/);
    expect(manager.store.getService('web')?.Spec.Mode?.Replicated?.Replicas).toBe(3);

    expect(await ok(['service', 'ls'])).toMatch(/web\s+replicated\s+0\/3\s+busybox/);

    const [svc] = JSON.parse(await ok(['service', 'inspect', 'web'])) as {
      ID: string;
      Spec: { Name: string; TaskTemplate: { ContainerSpec: { Args: string[] } } };
    }[];
    expect(svc?.ID).toBe(id);
    expect(svc?.Spec.TaskTemplate.ContainerSpec.Args).toEqual(['sleep', '1000']);

    expect(await ok(['service', 'ps', 'web'])).toMatch(/^ID\s+NAME\s+IMAGE/);
    // A task as the orchestrator and an agent would leave it: `service ps` shows it.
    const svcObj = manager.store.getService('web')!;
    await manager.store.update((tx) =>
      tx.createTask({
        ServiceID: id,
        Slot: 1,
        NodeID: manager.nodeId,
        Spec: svcObj.Spec.TaskTemplate ?? {},
        Status: { State: 'running', Timestamp: new Date().toISOString(), Message: 'started' },
        DesiredState: 'running',
      }),
    );
    expect(await ok(['service', 'ps', 'web'])).toMatch(
      /web\.1\s+busybox:latest\s+skiff-test-node\s+Running\s+Running/,
    );
    expect(await ok(['service', 'ls'])).toMatch(/web\s+replicated\s+1\/3/);

    await ok(['service', 'update', '--detach', '--replicas', '5', 'web']);
    const updated = manager.store.getService('web');
    expect(updated?.Spec.Mode?.Replicated?.Replicas).toBe(5);
    expect(updated?.PreviousSpec?.Mode?.Replicated?.Replicas).toBe(3);

    await ok(['service', 'rm', 'web']);
    expect(manager.store.getService('web')).toBeUndefined();
    const missing = await docker(['service', 'inspect', 'web']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no such service: web/);
  });

  it('docker events streams service events as they happen, with filters', async () => {
    const child = spawn(
      DOCKER,
      ['events', '--format', '{{json .}}', '--filter', 'type=service', '--filter', 'event=create'],
      {
        env: {
          PATH: process.env.PATH,
          HOME: dir,
          DOCKER_HOST: `unix://${join(dir, 'skiff.sock')}`,
          DOCKER_CONFIG: join(dir, 'docker-config'),
        },
      },
    );
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    try {
      // The stream is open once the server counts the listener; then make events.
      await waitFor(
        async () => JSON.parse((await docker(['info', '--format', '{{json .NEventsListener}}'])).out) === 1,
        {
          what: 'docker events to be listening',
        },
      );
      await ok(['config', 'create', 'ev-noise', '-'], { input: 'x' });
      await ok(['service', 'create', '--detach', '--name', 'ev', 'busybox']);
      const line = await waitFor(() => out.split('\n').find((l) => l.includes('"ev"')), {
        what: 'the service create event',
      });
      expect(JSON.parse(line)).toMatchObject({
        Type: 'service',
        Action: 'create',
        Actor: { Attributes: { name: 'ev' } },
        scope: 'swarm',
      });
      expect(out).not.toContain('ev-noise');
    } finally {
      child.kill('SIGKILL');
      await ok(['service', 'rm', 'ev']);
      await ok(['config', 'rm', 'ev-noise']);
    }
  });

  it('docker events --since/--until --filter type=service shows a service created, updated and removed', async () => {
    const since = (Date.now() / 1000 - 1).toFixed(3);
    await ok(['config', 'create', 'evs-noise', '-'], { input: 'x' });
    await ok(['service', 'create', '--detach', '--name', 'evs', 'busybox']);
    await ok(['service', 'update', '--detach', '--replicas', '2', 'evs']);
    await ok(['service', 'rm', 'evs']);
    await ok(['config', 'rm', 'evs-noise']);
    // An `until` in the past: the replay from the ring ends the stream by itself.
    const until = (Date.now() / 1000).toFixed(3);
    const out = await ok([
      'events',
      '--since',
      since,
      '--until',
      until,
      '--filter',
      'type=service',
      '--format',
      '{{json .}}',
    ]);
    const events = out
      .split('\n')
      .filter(Boolean)
      .map(
        (l) =>
          JSON.parse(l) as { Type: string; Action: string; Actor: { Attributes: Record<string, string> } },
      );
    expect(events.every((e) => e.Type === 'service')).toBe(true);
    expect(events.filter((e) => e.Actor.Attributes.name === 'evs').map((e) => e.Action)).toEqual([
      'create',
      'update',
      'remove',
    ]);
    // Only this service's: `since` reaches back into the previous test's updates.
    expect(
      events.find((e) => e.Action === 'update' && e.Actor.Attributes.name === 'evs')?.Actor.Attributes,
    ).toMatchObject({
      'replicas.old': '1',
      'replicas.new': '2',
    });
  });

  it('creates an overlay network', async () => {
    const id = await ok(['network', 'create', '-d', 'overlay', 'n1']);
    const [net] = JSON.parse(await ok(['network', 'inspect', 'n1'])) as {
      Id: string;
      Driver: string;
      Scope: string;
    }[];
    expect(net).toMatchObject({ Id: id, Driver: 'overlay', Scope: 'swarm' });
    const bridge = await docker(['network', 'create', '-d', 'bridge', 'nope']);
    expect(bridge.code).not.toBe(0);
    // The message reaches the user as text, not as a JSON blob.
    expect(bridge.stderr).toContain('Error response from daemon: network driver bridge is not supported');
    expect(manager.store.getNetwork('nope')).toBeUndefined();
  });

  it('creates a secret whose data is never shown and never stored in clear', async () => {
    const plain = 'skiff-secret-d41d8cd98f00b204';
    const id = await ok(['secret', 'create', 's1', '-'], { input: plain });
    const inspect = await ok(['secret', 'inspect', 's1']);
    expect(inspect).toContain(id);
    expect(inspect).not.toContain(plain);
    expect(inspect).not.toContain(Buffer.from(plain).toString('base64'));
    expect((JSON.parse(inspect) as { Spec: { Data?: string } }[])[0]?.Spec.Data).toBeUndefined();
    expect(Buffer.from(manager.store.getSecretData(id)!).toString()).toBe(plain);

    await manager.flush();
    const stateDir = join(dir, 'state');
    const files = (await readdir(stateDir, { recursive: true, withFileTypes: true })).filter((e) =>
      e.isFile(),
    );
    // The raft WAL holds the proposal that created the secret; it must be sealed there.
    expect(files.some((f) => f.parentPath.includes(join('raft', 'wal')))).toBe(true);
    for (const f of files) {
      const bytes = await readFile(join(f.parentPath, f.name));
      expect(bytes.includes(plain), f.name).toBe(false);
      expect(bytes.includes(Buffer.from(plain).toString('base64')), f.name).toBe(false);
    }
  });

  it('creates a config', async () => {
    const id = await ok(['config', 'create', 'c1', '-'], { input: 'hello config\n' });
    const c = manager.store.getConfig('c1');
    expect(c?.ID).toBe(id);
    expect(Buffer.from(c?.Spec.Data ?? '', 'base64').toString()).toBe('hello config\n');
  });

  it('deploys, lists and removes a stack from a compose file', async () => {
    const stackDir = join(dir, 'stack');
    await rm(stackDir, { recursive: true, force: true });
    await mkdir(stackDir);
    await writeFile(
      join(stackDir, 'compose.yaml'),
      [
        'services:',
        '  web:',
        '    image: busybox',
        '    command: sleep 1000',
        '    deploy:',
        '      replicas: 2',
        '      resources: { limits: { cpus: "0.5", memory: 64M } }',
        '      update_config: { parallelism: 1, delay: 5s, failure_action: rollback, order: start-first }',
        '      rollback_config: { parallelism: 2 }',
        '      restart_policy: { condition: on-failure, delay: 2s, max_attempts: 3 }',
        '      placement: { constraints: ["node.role == manager"], preferences: [{ spread: node.labels.zone }] }',
        '    healthcheck: { test: ["CMD", "true"], interval: 10s, retries: 3 }',
        '    stop_grace_period: 20s',
        '    init: true',
        '    ports: ["8080:80"]',
        '    secrets: [{ source: token, target: /run/secrets/t, uid: "100", mode: 0400 }]',
        '    configs: [settings]',
        '  db:',
        '    image: busybox',
        '    command: sleep 1000',
        '    networks: [back]',
        '  agent:',
        '    image: busybox',
        '    deploy: { mode: global }',
        'networks:',
        '  back: {}',
        'secrets:',
        '  token: { file: ./token.txt }',
        'configs:',
        '  settings: { file: ./settings.txt }',
        '',
      ].join('\n'),
    );
    await writeFile(join(stackDir, 'token.txt'), 'stack-token');
    await writeFile(join(stackDir, 'settings.txt'), 'a=b');

    await ok(['stack', 'deploy', '-c', 'compose.yaml', 'app'], { cwd: stackDir });
    const web = manager.store.getService('app_web');
    expect(web?.Spec.Mode?.Replicated?.Replicas).toBe(2);
    expect(web?.Spec.Labels?.['com.docker.stack.namespace']).toBe('app');
    expect(web?.Spec.EndpointSpec?.Ports?.[0]).toMatchObject({ PublishedPort: 8080, TargetPort: 80 });
    expect(manager.store.getNetwork('app_back')?.Spec.DriverConfiguration?.Name).toBe('overlay');

    const services = await ok(['stack', 'services', 'app']);
    expect(services).toMatch(/app_web\s+replicated\s+0\/2/);
    expect(services).toMatch(/app_db\s+replicated\s+0\/1/);
    expect(services).toMatch(/app_agent\s+global/);
    expect(web?.Spec.UpdateConfig).toMatchObject({
      Parallelism: 1,
      FailureAction: 'rollback',
      Order: 'start-first',
    });
    expect(web?.Spec.TaskTemplate?.ContainerSpec?.Secrets?.[0]?.File).toMatchObject({
      Name: '/run/secrets/t',
      UID: '100',
      Mode: 0o400,
    });

    await ok(['stack', 'rm', 'app']);
    expect(
      manager.store.listServices((s) => s.Spec.Labels?.['com.docker.stack.namespace'] === 'app'),
    ).toEqual([]);
    expect(manager.store.getNetwork('app_back')).toBeUndefined();
    expect(manager.store.getSecret('app_token')).toBeUndefined();
    expect(manager.store.getConfig('app_settings')).toBeUndefined();
  });

  it('keeps the cluster across a manager restart', async () => {
    const nodeId = manager.nodeId;
    const clusterId = manager.store.getCluster()?.ID;
    await manager.stop();
    manager = await Manager.start({
      stateDir: join(dir, 'state'),
      socketPath: join(dir, 'skiff.sock'),
      hostname: 'skiff-test-node',
      version: '0.1.0-test',
    });
    expect(manager.nodeId).toBe(nodeId);
    expect(manager.store.getCluster()?.ID).toBe(clusterId);
    expect(await ok(['network', 'ls'])).toMatch(/\sn1\s+overlay\s+swarm/);
    expect(await ok(['secret', 'ls', '--format', '{{.Name}}'])).toBe('s1');
    expect(await ok(['config', 'ls', '--format', '{{.Name}}'])).toBe('c1');
    expect((await ok(['node', 'ls', '-q'])).split('\n')).toEqual([nodeId]);
  });

  it('autolock: the key is locked, a restarted manager waits for the unlock key, then serves again', async () => {
    const stateDir = join(dir, 'state');
    const printed = await ok(['swarm', 'update', '--autolock=true']);
    const key = await ok(['swarm', 'unlock-key', '-q']);
    expect(key).toMatch(/^SWMKEY-1-/);
    expect(printed).toContain(key);
    await manager.flush();
    const files = await readdir(stateDir);
    expect(files).toContain('secrets.key.locked');
    expect(files).not.toContain('secrets.key');
    // The certificate keys are sealed with the (locked) store key: none reads as a PEM key.
    const keyFiles = async () =>
      Promise.all(
        (await readdir(join(stateDir, 'certs')))
          .filter((f) => f.endsWith('.key'))
          .map(async (f) => (await readFile(join(stateDir, 'certs', f), 'utf8')).includes('PRIVATE KEY')),
      );
    expect(await keyFiles()).toEqual([false, false, false, false]);

    const secretId = manager.store.getSecret('s1')!.ID;
    await manager.stop();
    const starting = Manager.start({
      stateDir,
      socketPath: join(dir, 'skiff.sock'),
      hostname: 'skiff-test-node',
      version: '0.1.0-test',
    });
    try {
      await waitFor(async () => (await docker(['info'])).out.includes('Swarm: locked'), {
        what: 'the restarted manager to report it is locked',
      });
      const ls = await docker(['node', 'ls']);
      expect(ls.code).not.toBe(0);
      expect(ls.stderr).toContain('Swarm is encrypted and needs to be unlocked');
      const wrong = await docker(['swarm', 'unlock'], { input: 'SWMKEY-1-not-the-key\n' });
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr).toContain('invalid key');
      await ok(['swarm', 'unlock'], { input: `${key}\n` });
    } finally {
      manager = await starting;
    }
    expect(Buffer.from(manager.store.getSecretData(secretId)!).toString()).toBe(
      'skiff-secret-d41d8cd98f00b204',
    );
    await waitFor(async () => (await docker(['node', 'ls'])).code === 0, {
      what: 'the unlocked manager to serve',
    });

    await ok(['swarm', 'update', '--autolock=false']);
    await manager.flush();
    expect(await readdir(stateDir)).toContain('secrets.key');
    expect(await readdir(stateDir)).not.toContain('secrets.key.locked');
    expect(await keyFiles()).toEqual([true, true, true, true]);
  });
});
