// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose files use ${VAR} syntax, which is what these tests feed in
import { describe, expect, it } from 'vitest';
import { formatComposeErrors } from '../../../compose/index.js';
import { load, loadErrors, loadOk } from './helpers.js';

const one = async (service: string, extra = '') => {
  const r = await loadOk(
    { 'compose.yaml': `services:\n  s:\n${service.replace(/^/gm, '    ')}\n${extra}` },
    { env: { HOME: '/home/u', FROM_ENV: 'yes' } },
  );
  return { s: r.project.services.s!, project: r.project, dir: r.dir };
};

describe('short syntax → long form', () => {
  it('ports: ranges, protocol, host IP, mode', async () => {
    const { s } = await one(
      'image: x\nports:\n  - 3000\n  - "4000-4001"\n  - "8080:80"\n  - "127.0.0.1:9000-9001:9000-9001/udp"\n  - "[::1]:6000:6000"\n  - "5000-5002:53"\n  - {target: 22, published: "2222", mode: host}',
    );
    expect(s.ports).toEqual([
      { mode: 'ingress', target: 3000, protocol: 'tcp' },
      { mode: 'ingress', target: 4000, protocol: 'tcp' },
      { mode: 'ingress', target: 4001, protocol: 'tcp' },
      { mode: 'ingress', target: 80, published: '8080', protocol: 'tcp' },
      { mode: 'ingress', host_ip: '127.0.0.1', target: 9000, published: '9000', protocol: 'udp' },
      { mode: 'ingress', host_ip: '127.0.0.1', target: 9001, published: '9001', protocol: 'udp' },
      { mode: 'ingress', host_ip: '::1', target: 6000, published: '6000', protocol: 'tcp' },
      { mode: 'ingress', target: 53, published: '5000-5002', protocol: 'tcp' },
      { mode: 'host', target: 22, published: '2222', protocol: 'tcp' },
    ]);
  });

  it('volumes: bind, named, anonymous, tmpfs, modes, relative and ~ paths', async () => {
    const { s, dir } = await one(
      'image: x\nvolumes:\n  - ./src:/app:ro,z\n  - ~/cache:/cache\n  - data:/data:nocopy\n  - /anon\n  - /etc/tz:/etc/tz:ro\n  - {type: tmpfs, target: /tmp, tmpfs: {size: 64m}}\n  - {type: bind, source: ./conf, target: /conf, read_only: "true"}',
      'volumes:\n  data:\n',
    );
    expect(s.volumes).toEqual([
      {
        type: 'bind',
        source: `${dir}/src`,
        target: '/app',
        read_only: true,
        bind: { create_host_path: true, selinux: 'z' },
      },
      { type: 'bind', source: '/home/u/cache', target: '/cache', bind: { create_host_path: true } },
      { type: 'volume', source: 'data', target: '/data', volume: { nocopy: true } },
      { type: 'volume', target: '/anon', volume: {} },
      {
        type: 'bind',
        source: '/etc/tz',
        target: '/etc/tz',
        read_only: true,
        bind: { create_host_path: true },
      },
      { type: 'tmpfs', target: '/tmp', tmpfs: { size: 64 * 1024 * 1024 } },
      { type: 'bind', source: `${dir}/conf`, target: '/conf', read_only: true },
    ]);
  });

  it('environment and labels from lists or maps; names without value from the environment', async () => {
    const { s } = await one(
      'image: x\nenvironment: [A=1, "B=x=y", FROM_ENV, UNSET]\nlabels: {n: 1, b: true, e: null}',
    );
    expect(s.environment).toEqual({ A: '1', B: 'x=y', FROM_ENV: 'yes', UNSET: null });
    expect(s.labels).toEqual({ n: '1', b: 'true', e: '' });
  });

  it('env_file: string, list, long form with required and format', async () => {
    const { s, dir } = await one(
      'image: x\nenv_file:\n  - a.env\n  - {path: ./b.env, required: false, format: raw}',
    );
    expect(s.env_file).toEqual([
      { path: `${dir}/a.env`, required: true },
      { path: `${dir}/b.env`, required: false, format: 'raw' },
    ]);
    expect((await one('image: x\nenv_file: c.env')).s.env_file).toEqual([
      { path: expect.stringMatching(/\/c\.env$/), required: true },
    ]);
  });

  it('secrets and configs: short and long', async () => {
    const { s } = await one(
      'image: x\nsecrets: [db, {source: api, target: /run/api, uid: "100", mode: 0o400}]\nconfigs: [{source: nginx, target: /etc/nginx.conf, mode: "0440"}]',
      'secrets:\n  db: {file: ./db.txt}\n  api: {environment: API}\nconfigs:\n  nginx: {content: "x"}\n',
    );
    expect(s.secrets).toEqual([
      { source: 'db' },
      { source: 'api', target: '/run/api', uid: '100', mode: 0o400 },
    ]);
    expect(s.configs).toEqual([{ source: 'nginx', target: '/etc/nginx.conf', mode: 0o440 }]);
  });

  it('networks: list or map with aliases and ipv4_address; default network added', async () => {
    const { project } = await loadOk({
      'compose.yaml':
        'services:\n  a: {image: x, networks: [front]}\n  b:\n    image: x\n    networks:\n      back: {aliases: [db], ipv4_address: 10.0.0.5}\n      front:\n  c: {image: x}\n  d: {image: x, network_mode: none}\nnetworks:\n  front:\n  back: {driver: overlay, attachable: true}\n',
    });
    expect(project.services.a!.networks).toEqual({ front: null });
    expect(project.services.b!.networks).toEqual({
      back: { aliases: ['db'], ipv4_address: '10.0.0.5' },
      front: null,
    });
    expect(project.services.c!.networks).toEqual({ default: null });
    expect(project.services.d!.networks).toBeUndefined();
    expect(Object.keys(project.networks)).toEqual(['back', 'default', 'front']);
    expect(project.networks.back).toMatchObject({ driver: 'overlay', attachable: true });
  });

  it('healthcheck: string test, durations, disable', async () => {
    const { s } = await one(
      'image: x\nhealthcheck:\n  test: curl -f http://localhost\n  interval: 1m30s\n  timeout: 500ms\n  retries: "3"\n  start_period: 2s',
    );
    expect(s.healthcheck).toEqual({
      test: ['CMD-SHELL', 'curl -f http://localhost'],
      interval: 90e9,
      timeout: 0.5e9,
      retries: 3,
      start_period: 2e9,
    });
    expect((await one('image: x\nhealthcheck: {disable: true}')).s.healthcheck).toEqual({ disable: true });
    expect((await one('image: x\nhealthcheck: {test: [NONE]}')).s.healthcheck).toEqual({
      test: ['NONE'],
      disable: true,
    });
  });

  it('deploy: modes, replicas, resources, policies, placement', async () => {
    const { s } = await one(
      [
        'image: x',
        'deploy:',
        '  mode: replicated',
        '  replicas: "3"',
        '  endpoint_mode: dnsrr',
        '  labels: [team=a]',
        '  resources:',
        '    limits: {cpus: "0.5", memory: 512m, pids: 100}',
        '    reservations: {cpus: 0.25, memory: 128M}',
        '  restart_policy: {condition: on-failure, delay: 5s, max_attempts: 3, window: 2m}',
        '  update_config: {parallelism: 2, delay: 10s, order: start-first, failure_action: rollback, monitor: 1m, max_failure_ratio: 0.1}',
        '  rollback_config: {parallelism: 0}',
        '  placement:',
        '    constraints: [node.role == worker]',
        '    preferences: [{spread: node.labels.zone}]',
        '    max_replicas_per_node: 1',
      ].join('\n'),
    );
    expect(s.deploy).toEqual({
      mode: 'replicated',
      replicas: 3,
      endpoint_mode: 'dnsrr',
      labels: { team: 'a' },
      resources: {
        limits: { cpus: 0.5, memory: 512 * 1024 ** 2, pids: 100 },
        reservations: { cpus: 0.25, memory: 128 * 1024 ** 2 },
      },
      restart_policy: { condition: 'on-failure', delay: 5e9, max_attempts: 3, window: 120e9 },
      update_config: {
        parallelism: 2,
        delay: 10e9,
        order: 'start-first',
        failure_action: 'rollback',
        monitor: 60e9,
        max_failure_ratio: 0.1,
      },
      rollback_config: { parallelism: 0 },
      placement: {
        constraints: ['node.role == worker'],
        preferences: [{ spread: 'node.labels.zone' }],
        max_replicas_per_node: 1,
      },
    });
    for (const mode of ['global', 'replicated-job', 'global-job']) {
      expect((await one(`image: x\ndeploy: {mode: ${mode}}`)).s.deploy?.mode).toBe(mode);
    }
  });

  it('depends_on: list or long form', async () => {
    const { project } = await loadOk({
      'compose.yaml':
        'services:\n  a: {image: x, depends_on: [b]}\n  b:\n    image: x\n    depends_on:\n      c: {condition: service_healthy, restart: true}\n      d: {condition: service_completed_successfully, required: false}\n  c: {image: x}\n  d: {image: x}\n',
    });
    expect(project.services.a!.depends_on).toEqual({
      b: { condition: 'service_started', required: true, restart: false },
    });
    expect(project.services.b!.depends_on).toEqual({
      c: { condition: 'service_healthy', required: true, restart: true },
      d: { condition: 'service_completed_successfully', required: false, restart: false },
    });
  });

  it('ulimits, sizes, command and entrypoint, extra_hosts, dns, tmpfs', async () => {
    const { s } = await one(
      [
        'image: x',
        'ulimits: {nproc: 65535, nofile: {soft: 20000, hard: 40000}}',
        'shm_size: 1gb',
        'mem_limit: 512m',
        'memswap_limit: -1',
        'stop_grace_period: 1m',
        `command: sh -c 'echo "a b" && sleep 1' extra\\ word`,
        'entrypoint: ["/bin/tini", "--"]',
        'extra_hosts: ["db:10.0.0.2", "v6=::1", "db:10.0.0.3"]',
        'dns: 8.8.8.8',
        'tmpfs: /run',
      ].join('\n'),
    );
    expect(s.ulimits).toEqual({ nproc: { single: 65535 }, nofile: { soft: 20000, hard: 40000 } });
    expect(s.shm_size).toBe(1024 ** 3);
    expect(s.mem_limit).toBe(512 * 1024 ** 2);
    expect(s.memswap_limit).toBe(-1);
    expect(s.stop_grace_period).toBe(60e9);
    expect(s.command).toEqual(['sh', '-c', 'echo "a b" && sleep 1', 'extra word']);
    expect(s.entrypoint).toEqual(['/bin/tini', '--']);
    expect(s.extra_hosts).toEqual({ db: ['10.0.0.2', '10.0.0.3'], v6: ['::1'] });
    expect(s.dns).toEqual(['8.8.8.8']);
    expect(s.tmpfs).toEqual(['/run']);
  });

  it('build: string or mapping with the context made absolute', async () => {
    const { s, dir } = await one('build: ./app');
    expect(s.build).toEqual({ context: `${dir}/app`, dockerfile: 'Dockerfile' });
    const long = await one('build: {context: ., dockerfile: Dockerfile.dev, args: [A=1, B]}');
    expect(long.s.build).toEqual({
      context: long.dir,
      dockerfile: 'Dockerfile.dev',
      args: { A: '1', B: null },
    });
  });
});

describe('validation errors', () => {
  it('names file:line:col and path, and collects every error', async () => {
    const errors = await loadErrors({
      'compose.yaml': [
        'services:', //                           1
        '  web:', //                              2
        '    image: nginx', //                    3
        '    ports:', //                          4
        '      - "80:80"', //                     5
        '      - {target: 81, bogus: 1}', //      6
        '    restart_policy: always', //          7
        '  db:', //                               8
        '    image: [postgres]', //               9
        '    environment: 5', //                 10
        'volumes:', //                           11
        '  "bad name!": {}', //                  12
        '',
      ].join('\n'),
    });
    expect(errors.map((e) => `${e.file}:${e.line}:${e.col} ${e.path}: ${e.message}`)).toEqual([
      'compose.yaml:6:22 services.web.ports[1].bogus: unknown key "bogus"',
      'compose.yaml:7:5 services.web.restart_policy: unknown key "restart_policy"',
      'compose.yaml:9:5 services.db.image: must be a string',
      'compose.yaml:10:5 services.db.environment: must be a mapping or a list of "KEY=VALUE" strings',
      expect.stringMatching(/^compose.yaml:12:3 volumes\["bad name!"\]: /),
    ]);
  });

  it('checks types, durations and sizes after interpolation', async () => {
    const errors = await loadErrors(
      {
        'compose.yaml':
          'services:\n  web:\n    image: x\n    deploy: {replicas: "${N}"}\n    stop_grace_period: soon\n    shm_size: big\n    healthcheck: {interval: 5 minutes}\n    privileged: maybe\n',
      },
      { env: { N: 'three' } },
    );
    expect(errors.map((e) => `${e.line}:${e.col} ${e.path}`)).toEqual([
      '4:14 services.web.deploy.replicas',
      '5:5 services.web.stop_grace_period',
      '6:5 services.web.shm_size',
      '7:19 services.web.healthcheck.interval',
      '8:5 services.web.privileged',
    ]);
    expect(errors[1]!.message).toContain('not a duration');
    expect(errors[2]!.message).toContain('not a size');
  });

  it('formats errors one per line', async () => {
    const { result } = await load({ 'compose.yaml': 'services:\n  web:\n    image: 1\n    tty: []\n' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = formatComposeErrors(result.errors);
    expect(text.split('\n')).toHaveLength(2);
    expect(text).toMatch(
      /compose\.yaml:3:5: services\.web\.image: must be a string\n.*compose\.yaml:4:5: services\.web\.tty: /,
    );
  });
});

describe('semantic checks', () => {
  it('finds unknown services, cycles, undefined resources and port conflicts', async () => {
    const errors = await loadErrors({
      'compose.yaml': [
        'services:', //                                                   1
        '  a:', //                                                        2
        '    image: x', //                                                3
        '    depends_on: [b, ghost]', //                                  4
        '    links: [phantom]', //                                        5
        '    ports: ["8080:80"]', //                                      6
        '  b:', //                                                        7
        '    image: x', //                                                8
        '    depends_on: [a]', //                                         9
        '    networks: [nowhere]', //                                    10
        '    volumes: ["missing:/data"]', //                             11
        '    secrets: [nosecret]', //                                    12
        '    configs: [noconfig]', //                                    13
        '    ports: ["127.0.0.1:8080:81"]', //                           14
        '  c:', //                                                       15
        '    build: .', //                                               16
        '    network_mode: "service:nobody"', //                         17
        '',
      ].join('\n'),
    });
    const lines = errors.map((e) => `${e.line} ${e.path}: ${e.message}`);
    expect(lines).toEqual([
      '4 services.a.depends_on.ghost: service "a" depends on service "ghost", which is not defined',
      '5 services.a.links[0]: service "a" links to service "phantom", which is not defined',
      '9 services.b.depends_on.a: dependency cycle: a → b → a',
      '10 services.b.networks.nowhere: network "nowhere" is not declared under the top-level networks:',
      '11 services.b.volumes[0]: volume "missing" is not declared under the top-level volumes:',
      '12 services.b.secrets[0]: secret "nosecret" is not declared under the top-level secrets:',
      '13 services.b.configs[0]: config "noconfig" is not declared under the top-level configs:',
      '14 services.b.ports[0]: published port 127.0.0.1:8080/tcp is already published by service "a" (services.a.ports[0])',
      '17 services.c.network_mode: network_mode "service:nobody" cannot be honoured: skiff runs every container in a network namespace of its own and cannot share it; attach it to networks: instead (none is accepted)',
      '17 services.c.network_mode: service "c" uses the network_mode of service "nobody", which is not defined',
    ]);
  });

  it('accepts an encrypted overlay network and keeps its option', async () => {
    const { project } = await loadOk({
      'compose.yaml':
        'services:\n  a: {image: x, networks: [sec]}\nnetworks:\n  sec:\n    driver: overlay\n    driver_opts:\n      encrypted: ""\n',
    });
    expect(project.networks.sec?.driver_opts).toEqual({ encrypted: '' });
  });

  it('rejects a container_name used twice or with several replicas', async () => {
    const errors = await loadErrors({
      'compose.yaml':
        'services:\n  a: {image: x, container_name: app}\n  b: {image: x, container_name: app}\n  c: {image: x, container_name: c1, deploy: {replicas: 2}}\n',
    });
    expect(errors.map((e) => `${e.line} ${e.message}`)).toEqual([
      '3 container_name "app" is already used by service "a"',
      '4 container_name "c1" needs exactly one replica, not 2',
    ]);
  });

  it('rejects ports outside 1-65535', async () => {
    const errors = await loadErrors({
      'compose.yaml': 'services:\n  a:\n    image: x\n    ports: ["70000:80", {target: 0}, "8080:80:90"]\n',
    });
    expect(errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'services.a.ports[0]: published port "70000" is outside 0-65535 or ends before it starts',
      'services.a.ports[1]: target port 0 is outside 1-65535',
      'services.a.ports[2]: "8080" is not an IP address to publish on',
    ]);
  });

  it('requires an image or build and one source per secret', async () => {
    const errors = await loadErrors({
      'compose.yaml':
        'services:\n  a:\n    environment: {A: "1"}\n    secrets: [s]\nsecrets:\n  s: {file: ./x, environment: X}\n',
    });
    expect(errors.map((e) => e.message)).toEqual([
      'service "a" has neither an image nor a build section',
      'secret "s" sets file and environment; use exactly one',
    ]);
  });
});
