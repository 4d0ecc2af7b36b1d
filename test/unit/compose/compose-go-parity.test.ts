// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose files use ${VAR} syntax, which is what these tests feed in
// `skiff compose config` against what compose-go (docker compose v2's loader) prints for
// the same files, field by field. The fixture (test/fixtures/compose-parity) uses every
// top-level element and every service attribute of the Compose Specification; the
// expected values below are written from compose-go's documented normalized shapes
// (its loader tests and types): env_file/label_file folded in and dropped, sizes as
// byte strings, durations as Go durations, extra_hosts as sorted `host=ip`, every
// declared resource kept with its default `name`, false plain booleans omitted.
// docker compose v2 itself is not installable here (no Debian package; its release
// binary is a download), so the reference is compose-go's documentation, not a run.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import yaml from 'js-yaml';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { composeCommandOf, registerComposeConfig } from '../../../cli/commands/compose-config.js';
import { CliExit, CliUsageError } from '../../../cli/output.js';
import { withProject } from './helpers.js';

const D = join(import.meta.dirname, '../../fixtures/compose-parity');
const FILE = join(D, 'compose.yaml');

type Obj = Record<string, unknown>;

beforeEach(() => {
  vi.stubEnv('FROM_SHELL', 'sh');
  vi.stubEnv('COMPOSE_PROJECT_NAME', '');
  vi.stubEnv('COMPOSE_PROFILES', '');
  vi.stubEnv('COMPOSE_FILE', '');
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

async function run(args: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  const program = new Command('skiff').exitOverride();
  registerComposeConfig(composeCommandOf(program));
  let code = 0;
  try {
    await program.parseAsync(['compose', 'config', ...args], { from: 'user' });
  } catch (e) {
    if (e instanceof CliExit) code = e.exitCode;
    else if (e instanceof CliUsageError) {
      code = 2;
      err += e.message;
    } else throw e;
  } finally {
    vi.restoreAllMocks();
  }
  return { out, err, code };
}

// The pid/uts/cgroup/device_cgroup_rules of the fixture are keys skiff cannot honour:
// refused by default, printed with a warning under --no-consistency.
const FULL = ['-f', FILE, '--profile', 'full', '--no-consistency'];

const DEPLOY = {
  mode: 'replicated',
  replicas: 2,
  labels: { 'com.example.tier': 'db' },
  update_config: {
    parallelism: 2,
    delay: '10s',
    failure_action: 'rollback',
    monitor: '1m0s',
    max_failure_ratio: 0.2,
    order: 'start-first',
  },
  rollback_config: {
    parallelism: 1,
    delay: '0s',
    failure_action: 'pause',
    monitor: '10s',
    max_failure_ratio: 0.1,
    order: 'stop-first',
  },
  resources: {
    limits: { cpus: 0.5, memory: '536870912', pids: 100 },
    reservations: { cpus: 0.25, memory: '134217728' },
  },
  restart_policy: { condition: 'on-failure', delay: '5s', max_attempts: 3, window: '2m0s' },
  placement: {
    constraints: ['node.role==manager'],
    preferences: [{ spread: 'node.labels.zone' }],
    max_replicas_per_node: 1,
  },
  endpoint_mode: 'dnsrr',
};

/** services.full as compose-go prints it, attribute by attribute. */
const FULL_SERVICE: Obj = {
  annotations: { 'com.example.a': '1' },
  attach: false,
  blkio_config: {
    weight: 300,
    weight_device: [{ path: '/dev/sda', weight: 400 }],
    device_read_bps: [{ path: '/dev/sda', rate: '12582912' }],
    device_read_iops: [{ path: '/dev/sda', rate: '120' }],
    device_write_bps: [{ path: '/dev/sda', rate: '1048576' }],
    device_write_iops: [{ path: '/dev/sda', rate: '30' }],
  },
  build: {
    context: `${D}/app`,
    dockerfile: 'Dockerfile.dev',
    args: { VERSION: '1', EMPTY: null },
    ssh: ['default', 'key=./id_rsa'],
    cache_from: ['type=registry,ref=example/cache'],
    cache_to: ['type=inline'],
    additional_contexts: { lib: `${D}/lib`, base: 'docker-image://alpine:3.20' },
    extra_hosts: ['build.local=10.0.0.9'],
    isolation: 'default',
    labels: { 'com.example.build': 'yes' },
    network: 'host',
    no_cache: true,
    platforms: ['linux/amd64'],
    pull: true,
    secrets: [{ source: 'src' }],
    shm_size: '67108864',
    tags: ['example/full:dev'],
    target: 'prod',
    ulimits: { nofile: 1024 },
  },
  cap_add: ['NET_ADMIN'],
  cap_drop: ['ALL'],
  cgroup: 'private',
  cgroup_parent: '/skiff',
  command: ['echo', 'hello world'],
  configs: [{ source: 'cfg' }, { source: 'cfg_ext', target: '/etc/ext.conf', mode: 0o440 }],
  container_name: 'the-full',
  cpu_count: 2,
  cpu_percent: 50,
  cpu_period: 100000,
  cpu_quota: 50000,
  cpu_rt_period: 1000000,
  cpu_rt_runtime: 950000,
  cpu_shares: 512,
  cpus: 1.5,
  cpuset: '0-1',
  credential_spec: { config: 'cred' },
  depends_on: { db: { condition: 'service_started', required: true } },
  develop: {
    watch: [{ path: `${D}/src`, action: 'sync', target: '/src', ignore: ['node_modules/'] }],
  },
  device_cgroup_rules: ['c 1:3 mr'],
  devices: [{ source: '/dev/fuse', target: '/dev/fuse', permissions: 'rwm' }],
  dns: ['8.8.8.8'],
  dns_opt: ['use-vc'],
  dns_search: ['example.com'],
  domainname: 'example.com',
  entrypoint: ['/bin/sh', '-c'],
  // env_file folded in (later files win, the service's own environment wins over them),
  // a bare name resolved from the shell, env_file itself dropped.
  environment: {
    FROM_FILE: 'a',
    OVERRIDE: 'service',
    REF: 't0k-x',
    FROM_SERVICE: '1',
    FROM_SHELL: 'sh',
  },
  expose: ['3000', '8000-8001'],
  external_links: ['redis_1:redis'],
  extra_hosts: ['somehost=162.242.195.82', 'v6host=::1'],
  gpus: 'all',
  group_add: ['mail', '42'],
  healthcheck: {
    test: ['CMD-SHELL', 'curl -f http://localhost'],
    timeout: '10s',
    interval: '1m30s',
    retries: 3,
    start_period: '40s',
    start_interval: '5s',
  },
  hostname: 'full',
  image: 'example/full:1.0',
  init: true,
  ipc: 'shareable',
  isolation: 'default',
  // label_file folded in, the service's own labels win, label_file dropped.
  labels: {
    'com.example.file': 'yes',
    'com.example.override': 'service',
    'com.example.own': 'yes',
  },
  links: ['db:database'],
  logging: { driver: 'json-file', options: { 'max-size': '10m' } },
  mac_address: '02:42:ac:11:65:43',
  mem_limit: '1073741824',
  mem_reservation: '536870912',
  mem_swappiness: 60,
  memswap_limit: '2147483648',
  networks: {
    front: { aliases: ['web'], ipv4_address: '172.28.0.10', priority: 10 },
    back: null,
  },
  oom_kill_disable: true,
  oom_score_adj: -500,
  pid: 'host',
  pids_limit: 100,
  platform: 'linux/amd64',
  ports: [
    { mode: 'ingress', host_ip: '127.0.0.1', target: 80, published: '8080', protocol: 'tcp' },
    { mode: 'ingress', target: 9000, published: '9000', protocol: 'udp' },
    { mode: 'ingress', target: 9001, published: '9001', protocol: 'udp' },
    {
      name: 'https',
      mode: 'host',
      target: 443,
      published: '8443',
      protocol: 'tcp',
      app_protocol: 'https',
    },
  ],
  post_start: [{ command: ['echo', 'started'], user: 'root' }],
  pre_stop: [{ command: ['echo', 'stopping'] }],
  // privileged: false is omitted (a plain bool with omitempty in compose-go)
  profiles: ['full'],
  pull_policy: 'missing',
  read_only: true,
  restart: 'unless-stopped',
  runtime: 'runc',
  secrets: [{ source: 'src' }, { source: 'src_env', target: 'token', uid: '103', gid: '103', mode: 0o400 }],
  security_opt: ['no-new-privileges:true'],
  shm_size: '67108864',
  stdin_open: true,
  stop_grace_period: '1m30s',
  stop_signal: 'SIGTERM',
  storage_opt: { size: '1G' },
  sysctls: { 'net.core.somaxconn': '1024' },
  tmpfs: ['/run'],
  tty: true,
  ulimits: { nproc: 65535, nofile: { soft: 20000, hard: 40000 } },
  // use_api_socket: false is omitted
  user: '1000:1000',
  userns_mode: 'host',
  uts: 'host',
  volumes: [
    { type: 'volume', source: 'data', target: '/var/lib/data', read_only: true, volume: {} },
    { type: 'bind', source: `${D}/static`, target: '/srv/static', bind: { create_host_path: true } },
    {
      type: 'bind',
      source: '/var/run/docker.sock',
      target: '/var/run/docker.sock',
      bind: { create_host_path: true },
    },
    { type: 'tmpfs', target: '/cache', tmpfs: { size: '10485760' } },
    { type: 'volume', target: '/anonymous', volume: {} },
  ],
  volumes_from: ['db:ro'],
  working_dir: '/app',
  'x-extra': 'kept',
};

const NETWORKS: Obj = {
  back: { name: 'parity_back' },
  front: {
    name: 'parity_front',
    driver: 'bridge',
    driver_opts: { 'com.docker.network.bridge.name': 'br-front' },
    attachable: true,
    enable_ipv4: true,
    enable_ipv6: false,
    // internal: false omitted
    labels: { 'com.example.net': 'front' },
    ipam: {
      driver: 'default',
      config: [
        {
          subnet: '172.28.0.0/16',
          ip_range: '172.28.5.0/24',
          gateway: '172.28.5.254',
          aux_addresses: { host1: '172.28.1.5' },
        },
      ],
      options: { foo: 'bar' },
    },
  },
  outside: { name: 'outside', external: true },
  renamed: { name: 'corp-net', external: true },
  unused: { name: 'parity_unused', driver: 'overlay' },
};

const VOLUMES: Obj = {
  data: {
    name: 'parity_data',
    driver: 'local',
    driver_opts: { type: 'none', o: 'bind', device: '/srv/data' },
    labels: { 'com.example.vol': 'data' },
  },
  named: { name: 'my-volume' },
  outside: { name: 'outside', external: true },
  unused: { name: 'parity_unused' },
};

const SECRETS: Obj = {
  outside: { name: 'outside', external: true },
  renamed: { name: 'corp-secret', external: true },
  src: { name: 'parity_src', file: `${D}/secret.txt`, labels: { 'com.example.s': '1' } },
  src_env: { name: 'parity_src_env', environment: 'TOKEN' },
};

const CONFIGS: Obj = {
  cfg: { name: 'parity_cfg', file: `${D}/app.conf`, template_driver: 'golang' },
  cfg_ext: { name: 'cfg_ext', external: true },
  env: { name: 'parity_env', environment: 'TOKEN' },
  inline: { name: 'parity_inline', content: 'port=80' },
};

/** Asserts one section key by key, so a failure names the field that differs. */
function expectFields(actual: Obj, expected: Obj, where: string): void {
  for (const [k, v] of Object.entries(expected)) {
    expect(actual[k], `${where}.${k}`).toEqual(v);
  }
  expect(Object.keys(actual).sort(), `${where}: no field compose-go would not print`).toEqual(
    Object.keys(expected).sort(),
  );
}

describe('compose config matches compose-go field by field', () => {
  it('prints every service attribute, network, volume, secret and config in compose-go’s shapes', async () => {
    const r = await run([...FULL, '--format', 'json']);
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(r.out) as Obj;
    expect(doc.name).toBe('parity');
    expect(doc['x-top']).toEqual({ nested: true });
    const services = doc.services as Record<string, Obj>;
    expect(Object.keys(services).sort()).toEqual(['db', 'full', 'worker']);
    // JSON as compose-go writes it: command/entrypoint always present.
    expectFields(services.full!, FULL_SERVICE, 'services.full');
    expectFields(
      services.db!,
      { image: 'postgres:16', deploy: DEPLOY, networks: { back: null }, command: null, entrypoint: null },
      'services.db',
    );
    // extends: everything of db, its own image and replicas; networks reset by !reset.
    expectFields(
      services.worker!,
      {
        image: 'example/worker',
        deploy: { ...DEPLOY, replicas: 1 },
        network_mode: 'none',
        scale: 1,
        command: null,
        entrypoint: null,
      },
      'services.worker',
    );
    // JSON networks carry `ipam: {}` as compose-go's struct does.
    const nets = doc.networks as Record<string, Obj>;
    for (const [k, v] of Object.entries(NETWORKS)) {
      expectFields(nets[k]!, { ipam: {}, ...(v as Obj) }, `networks.${k}`);
    }
    expect(Object.keys(nets).sort()).toEqual(Object.keys(NETWORKS).sort());
    for (const [section, expected] of [
      ['volumes', VOLUMES],
      ['secrets', SECRETS],
      ['configs', CONFIGS],
    ] as const) {
      const got = doc[section] as Record<string, Obj>;
      expect(Object.keys(got).sort(), section).toEqual(Object.keys(expected).sort());
      for (const [k, v] of Object.entries(expected)) expectFields(got[k]!, v as Obj, `${section}.${k}`);
    }
  });

  it('prints the same model as YAML, with `$` escaped so it loads back unchanged', async () => {
    const y = await run(FULL);
    expect(y.code, y.err).toBe(0);
    const doc = yaml.load(y.out) as { services: Record<string, Obj>; networks: Record<string, Obj> };
    expectFields(doc.services.full!, FULL_SERVICE, 'services.full');
    expectFields(doc.networks.front!, NETWORKS.front as Obj, 'networks.front');
    // What skiff cannot honour is still named, as a warning with file:line:col.
    expect(y.err).toMatch(
      /^warning: .*compose\.yaml:\d+:\d+: services\.full\.pid: pid "host" cannot be honoured/m,
    );
  });

  it('refuses the keys skiff cannot honour unless --no-consistency', async () => {
    const r = await run(['-f', FILE, '--profile', 'full']);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/compose\.yaml:\d+:5: services\.full\.uts: uts "host" cannot be honoured/);
  });

  it('--no-normalize leaves out names, the default network, pull_policy and inferred depends_on', async () => {
    await withProject(
      {
        'compose.yaml':
          'name: p\nservices:\n  a:\n    image: x\n    pull_policy: if_not_present\n    links: [b]\n  b:\n    image: y\nvolumes:\n  v: {}\n',
      },
      async (dir) => {
        const norm = JSON.parse((await run(['-f', `${dir}/compose.yaml`, '--format', 'json'])).out) as Obj;
        const services = norm.services as Record<string, Obj>;
        expect(services.a!.networks).toEqual({ default: null });
        expect(services.a!.pull_policy).toBe('missing');
        expect(services.a!.depends_on).toEqual({
          b: { condition: 'service_started', required: true, restart: true },
        });
        expect(norm.networks).toEqual({ default: { name: 'p_default', ipam: {} } });
        expect(norm.volumes).toEqual({ v: { name: 'p_v' } });

        const raw = JSON.parse(
          (await run(['-f', `${dir}/compose.yaml`, '--format', 'json', '--no-normalize'])).out,
        ) as Obj;
        const rs = raw.services as Record<string, Obj>;
        expect(rs.a!.networks).toBeUndefined();
        expect(rs.a!.pull_policy).toBe('if_not_present');
        expect(rs.a!.depends_on).toBeUndefined();
        expect(raw.networks).toBeUndefined();
        expect(raw.volumes).toEqual({ v: {} });
      },
    );
  });

  it('--no-interpolate prints ${VAR} as written; interpolation escapes a literal $', async () => {
    await withProject(
      {
        'compose.yaml': 'services:\n  a:\n    image: "app:${TAG:-1}"\n    environment:\n      PRICE: "$$5"\n',
      },
      async (dir) => {
        const on = yaml.load((await run(['-f', `${dir}/compose.yaml`])).out) as {
          services: { a: Obj };
        };
        expect(on.services.a.image).toBe('app:1');
        expect(on.services.a.environment).toEqual({ PRICE: '$$5' });
        const off = yaml.load((await run(['-f', `${dir}/compose.yaml`, '--no-interpolate'])).out) as {
          services: { a: Obj };
        };
        expect(off.services.a.image).toBe('app:${TAG:-1}');
        expect(off.services.a.environment).toEqual({ PRICE: '$$5' });
      },
    );
  });

  it('--no-consistency prints a file whose references do not resolve; without it, each is an error at file:line:col', async () => {
    await withProject(
      { 'compose.yaml': 'services:\n  a:\n    image: x\n    networks: [missing]\n    depends_on: [ghost]\n' },
      async (dir) => {
        const strict = await run(['-f', `${dir}/compose.yaml`]);
        expect(strict.code).toBe(1);
        expect(strict.err).toMatch(
          /compose\.yaml:4:\d+: services\.a\.networks\.missing: network "missing" is not declared/,
        );
        expect(strict.err).toMatch(
          /compose\.yaml:5:\d+: services\.a\.depends_on\.ghost: .*"ghost", which is not defined/,
        );
        const loose = await run(['-f', `${dir}/compose.yaml`, '--no-consistency']);
        expect(loose.code, loose.err).toBe(0);
        const doc = yaml.load(loose.out) as { services: { a: Obj } };
        expect(doc.services.a.networks).toEqual({ missing: null });
        expect(doc.services.a.depends_on).toEqual({
          ghost: { condition: 'service_started', required: true },
        });
      },
    );
  });

  it('--no-path-resolution keeps relative paths as written', async () => {
    const r = await run([...FULL, '--format', 'json', '--no-path-resolution']);
    expect(r.code, r.err).toBe(0);
    const full = (JSON.parse(r.out) as { services: Record<string, Obj> }).services.full!;
    expect((full.build as Obj).context).toBe('./app');
    expect((full.build as Obj).additional_contexts).toEqual({
      lib: './lib',
      base: 'docker-image://alpine:3.20',
    });
    expect((full.volumes as Obj[])[1]!.source).toBe('./static');
    // env_file is still read (relative to the project) and folded in.
    expect((full.environment as Obj).FROM_FILE).toBe('a');
  });
});

describe('compose config listing flags', () => {
  it('--services, --volumes, --networks, --images, --profiles', async () => {
    const text = async (flag: string) => (await run([...FULL, flag])).out;
    expect(await text('--services')).toBe('db\nfull\nworker\n');
    expect(await text('--volumes')).toBe('data\nnamed\noutside\nunused\n');
    expect(await text('--networks')).toBe('back\nfront\noutside\nrenamed\nunused\n');
    expect(await text('--images')).toBe('postgres:16\nexample/full:1.0\nexample/worker\n');
    // --profiles lists what the files define, whatever is active.
    expect((await run(['-f', FILE, '--no-consistency', '--profiles'])).out).toBe('full\n');
  });

  it('--images names a built-only service’s image <project>-<service>', async () => {
    await withProject({ 'compose.yaml': 'name: p\nservices:\n  app:\n    build: .\n' }, async (dir) => {
      expect((await run(['-f', `${dir}/compose.yaml`, '--images'])).out).toBe('p-app\n');
    });
  });

  it('--variables lists each variable with required, default and alternate value', async () => {
    await withProject(
      {
        'compose.yaml':
          'services:\n  a:\n    image: "app:${TAG:-latest}"\n    environment:\n      DB: ${DB_URL:?set DB_URL}\n      DEBUG: ${DEBUG:+on}\n      PLAIN: $PLAIN\n      COST: $$5\n',
      },
      async (dir) => {
        const table = await run(['-f', `${dir}/compose.yaml`, '--variables']);
        expect(table.code, table.err).toBe(0);
        expect(table.out.split('\n').map((l) => l.split(/\s{3,}/))).toEqual([
          ['NAME', 'REQUIRED', 'DEFAULT VALUE', 'ALTERNATE VALUE'],
          ['DB_URL', 'true'],
          ['DEBUG', 'false', 'on'],
          ['PLAIN', 'false'],
          ['TAG', 'false', 'latest'],
          [''],
        ]);
        const json = JSON.parse(
          (await run(['-f', `${dir}/compose.yaml`, '--variables', '--format', 'json'])).out,
        );
        expect(json.TAG).toEqual({ Name: 'TAG', DefaultValue: 'latest', PresenceValue: '', Required: false });
        expect(json.DEBUG).toEqual({ Name: 'DEBUG', DefaultValue: '', PresenceValue: 'on', Required: false });
      },
    );
  });

  it('--environment prints the interpolation environment; --hash one digest per service', async () => {
    const env = (await run([...FULL, '--environment'])).out.split('\n');
    expect(env).toContain('TOKEN=t0k');
    expect(env).toContain('FROM_SHELL=sh');
    expect(env).toContain('COMPOSE_PROJECT_NAME=parity');
    const all = (await run([...FULL, '--hash', '*'])).out;
    expect(all).toMatch(/^db [0-9a-f]{64}\nfull [0-9a-f]{64}\nworker [0-9a-f]{64}\n$/);
    const one = (await run([...FULL, '--hash', 'db'])).out;
    expect(all.startsWith(one)).toBe(true);
    expect((await run([...FULL, '--hash', 'nope'])).err).toMatch(/no such service: "nope"/);
  });

  it('-o writes to a file; selected services bring their dependencies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-config-out-'));
    try {
      const r = await run([...FULL, '-o', join(dir, 'out.yaml'), 'full']);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toBe('');
      const doc = yaml.load(readFileSync(join(dir, 'out.yaml'), 'utf8')) as { services: Obj };
      expect(Object.keys(doc.services).sort()).toEqual(['db', 'full']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses --resolve-image-digests, an unknown format and an unknown service clearly', async () => {
    const digests = await run([...FULL, '--resolve-image-digests']);
    expect(digests.code).toBe(2);
    expect(digests.err).toMatch(/--resolve-image-digests is not supported/);
    expect((await run([...FULL, '--format', 'toml'])).err).toMatch(/unknown format "toml": use yaml or json/);
    expect((await run([...FULL, 'ghost'])).err).toMatch(/no such service: "ghost"/);
  });

  it('a missing env_file is an error at the compose file’s line; an optional one is skipped', async () => {
    await withProject(
      {
        'compose.yaml':
          'services:\n  a:\n    image: x\n    env_file:\n      - missing.env\n      - path: optional.env\n        required: false\n',
      },
      async (dir) => {
        const r = await run(['-f', `${dir}/compose.yaml`]);
        expect(r.code).toBe(1);
        expect(r.err.trim().split('\n')).toEqual([
          expect.stringMatching(
            /compose\.yaml:5:9: services\.a\.env_file\[0\]: cannot read env_file .*missing\.env: no such file/,
          ),
        ]);
      },
    );
  });
});
