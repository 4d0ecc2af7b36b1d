// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose files use ${VAR} syntax, which is what these tests feed in
import { describe, expect, it } from 'vitest';
import { formatComposeErrors, loadProject } from '../../../compose/index.js';
import { loadErrors, loadOk, withProject } from './helpers.js';

describe('environment and interpolation', () => {
  const file =
    'services:\n  web:\n    image: "app:${TAG}"\n    environment:\n      FROM_ENV:\n      NAME: ${NAME:-anon}\n';

  it('reads .env from the project directory; the process environment wins', async () => {
    const { project } = await loadOk(
      { 'compose.yaml': file, '.env': 'TAG=1.0\nNAME=dotenv\nFROM_ENV=x\n' },
      { env: { TAG: '2.0' } },
    );
    expect(project.services.web!.image).toBe('app:2.0');
    expect(project.services.web!.environment).toEqual({ FROM_ENV: 'x', NAME: 'dotenv' });
  });

  it('replaces .env with the --env-file files, later ones winning', async () => {
    const tree = {
      'compose.yaml': file,
      '.env': 'TAG=dotenv\n',
      'a.env': 'TAG=a\nNAME=a\n',
      'b.env': 'TAG=b\n',
    };
    await withProject(tree, async (dir) => {
      const r = await loadProject({
        files: [`${dir}/compose.yaml`],
        envFiles: [`${dir}/a.env`, `${dir}/b.env`],
        env: {},
      });
      if (!r.ok) throw new Error(formatComposeErrors(r.errors));
      expect(r.project.services.web!.image).toBe('app:b');
      expect(r.project.services.web!.environment?.NAME).toBe('a');
      const missing = await loadProject({
        files: [`${dir}/compose.yaml`],
        envFiles: [`${dir}/nope.env`],
        env: {},
      });
      expect(!missing.ok && missing.errors[0]!.message).toContain('cannot read the env file');
    });
  });

  it('warns about unset variables and errors on missing required ones with their place', async () => {
    const { warnings } = await loadOk({ 'compose.yaml': file });
    expect(warnings.map((w) => w.message)).toContain('the "TAG" variable is not set; using an empty string');
    const errors = await loadErrors({
      'compose.yaml': 'services:\n  web:\n    image: ${IMAGE:?set IMAGE}\n',
    });
    expect(errors).toEqual([
      expect.objectContaining({
        file: 'compose.yaml',
        line: 3,
        col: 5,
        path: 'services.web.image',
        message: expect.stringContaining('required variable IMAGE is missing a value: set IMAGE'),
      }),
    ]);
  });

  it('keeps $$ literal and does not interpolate keys', async () => {
    const { project } = await loadOk(
      {
        'compose.yaml':
          'services:\n  web:\n    image: x\n    command: echo $$HOME\n    labels:\n      $KEY: v\n',
      },
      { env: { KEY: 'no' } },
    );
    expect(project.services.web!.command).toEqual(['echo', '$HOME']);
    expect(project.services.web!.labels).toEqual({ $KEY: 'v' });
  });
});

describe('project name', () => {
  const svc = 'services:\n  a:\n    image: x\n';
  it('follows -p, COMPOSE_PROJECT_NAME, top-level name, then the directory', async () => {
    expect(
      (
        await loadOk(
          { 'compose.yaml': `name: top\n${svc}` },
          { projectName: 'flag', env: { COMPOSE_PROJECT_NAME: 'env' } },
        )
      ).project.name,
    ).toBe('flag');
    expect(
      (await loadOk({ 'compose.yaml': `name: top\n${svc}` }, { env: { COMPOSE_PROJECT_NAME: 'env' } }))
        .project.name,
    ).toBe('env');
    expect((await loadOk({ 'compose.yaml': `name: top\n${svc}` })).project.name).toBe('top');
    expect(
      (await loadOk({ 'My.App_1/compose.yaml': svc }, { files: ['My.App_1/compose.yaml'] })).project.name,
    ).toBe('myapp_1');
  });

  it('exposes the name from name: or the directory as COMPOSE_PROJECT_NAME', async () => {
    const file = 'services:\n  a:\n    image: x\n    environment: ["P=${COMPOSE_PROJECT_NAME}"]\n';
    const fromName = await loadOk({ 'compose.yaml': `name: "from-\${SUFFIX:-top}"\n${file}` });
    expect(fromName.project.name).toBe('from-top');
    expect(fromName.project.services.a!.environment).toEqual({ P: 'from-top' });
    const fromDir = await loadOk({ 'Shop/compose.yaml': file }, { files: ['Shop/compose.yaml'] });
    expect(fromDir.project.services.a!.environment).toEqual({ P: 'shop' });
    expect(fromDir.warnings).toEqual([]);
  });

  it('rejects an invalid explicit name and warns about version', async () => {
    const errors = await loadErrors({ 'compose.yaml': `name: Bad Name\n${svc}` });
    expect(errors[0]).toMatchObject({
      line: 1,
      path: 'name',
      message: expect.stringContaining('project name "Bad Name" is invalid'),
    });
    const { warnings } = await loadOk({ 'compose.yaml': `version: "3.8"\n${svc}` });
    expect(warnings[0]).toMatchObject({
      line: 1,
      path: 'version',
      message: expect.stringContaining('obsolete'),
    });
  });

  it('is used for resource names and COMPOSE_PROJECT_NAME interpolation', async () => {
    const { project } = await loadOk(
      {
        'compose.yaml':
          'name: shop\nservices:\n  a:\n    image: x\n    environment: ["P=${COMPOSE_PROJECT_NAME}"]\n    volumes: [data:/d]\nvolumes:\n  data:\n',
      },
      { projectName: 'shop' },
    );
    expect(project.volumes.data!.name).toBe('shop_data');
    expect(project.networks.default!.name).toBe('shop_default');
    expect(project.services.a!.environment).toEqual({ P: 'shop' });
  });
});

describe('merging several files', () => {
  const base = [
    'services:',
    '  web:',
    '    image: web:1',
    '    command: ["run", "a"]',
    '    environment: {A: "1", B: "1"}',
    '    ports: ["8080:80"]',
    '    volumes: ["./a:/data", "logs:/logs"]',
    '    dns: [1.1.1.1]',
    '    labels: [x=1]',
    'volumes:',
    '  logs: {}',
    '',
  ].join('\n');

  it('merges mappings, appends sequences, replaces command and merges unique keys', async () => {
    const over = [
      'services:',
      '  web:',
      '    image: web:2',
      '    command: ["run", "b"]',
      '    environment: [B=2, C=3]',
      '    ports: ["8080:80", "9090:90"]',
      '    volumes: ["./b:/data"]',
      '    dns: [8.8.8.8]',
      '',
    ].join('\n');
    const { project, dir } = await loadOk(
      { 'compose.yaml': base, 'override.yaml': over },
      { files: ['compose.yaml', 'override.yaml'] },
    );
    const web = project.services.web!;
    expect(web.image).toBe('web:2');
    expect(web.command).toEqual(['run', 'b']);
    expect(web.environment).toEqual({ A: '1', B: '2', C: '3' });
    expect(web.ports?.map((p) => p.published)).toEqual(['8080', '9090']);
    expect(web.volumes?.map((v) => `${v.source}:${v.target}`)).toEqual([`${dir}/b:/data`, 'logs:/logs']);
    expect(web.dns).toEqual(['1.1.1.1', '8.8.8.8']);
    expect(web.labels).toEqual({ x: '1' });
  });

  it('applies !reset and !override', async () => {
    const over =
      'services:\n  web:\n    ports: !override ["7000:70"]\n    dns: !reset []\n    environment:\n      A: !reset null\n';
    const { project } = await loadOk(
      { 'compose.yaml': base, 'o.yaml': over },
      { files: ['compose.yaml', 'o.yaml'] },
    );
    expect(project.services.web!.ports).toEqual([
      { mode: 'ingress', target: 70, published: '7000', protocol: 'tcp' },
    ]);
    expect(project.services.web!.dns).toBeUndefined();
    expect(project.services.web!.environment).toEqual({ B: '1' });
  });

  it('reports errors in the override file with its own name', async () => {
    const errors = await loadErrors(
      { 'compose.yaml': base, 'o.yaml': 'services:\n  web:\n    restart: sometimes\n' },
      { files: ['compose.yaml', 'o.yaml'] },
    );
    expect(errors).toEqual([
      expect.objectContaining({ file: 'o.yaml', line: 3, col: 5, path: 'services.web.restart' }),
    ]);
  });
});

describe('extends', () => {
  it('extends a service of the same file and of another file, with paths relative to that file', async () => {
    const { project, dir } = await loadOk({
      'compose.yaml': [
        'services:',
        '  base:',
        '    image: base',
        '    environment: {TZ: utc, PORT: "80"}',
        '  cli:',
        '    extends: base',
        '    environment: {PORT: "8080"}',
        '  remote:',
        '    extends: {file: common/common.yaml, service: worker}',
        '    command: work --fast',
        '',
      ].join('\n'),
      'common/common.yaml':
        'services:\n  root:\n    image: root\n    user: nobody\n  worker:\n    extends: root\n    env_file: worker.env\n    volumes: ["./cache:/cache"]\n',
    });
    expect(project.services.cli).toMatchObject({ image: 'base', environment: { TZ: 'utc', PORT: '8080' } });
    expect(project.services.remote).toMatchObject({
      image: 'root',
      user: 'nobody',
      command: ['work', '--fast'],
      env_file: [{ path: `${dir}/common/worker.env`, required: true }],
      volumes: [expect.objectContaining({ type: 'bind', source: `${dir}/common/cache`, target: '/cache' })],
    });
    expect(project.services.remote!.extends).toBeUndefined();
  });

  it('reports unknown services, missing files and cycles at the extends key', async () => {
    const errors = await loadErrors({
      'compose.yaml': [
        'services:',
        '  a:',
        '    extends: nope',
        '  b:',
        '    extends: {service: x, file: missing.yaml}',
        '  c:',
        '    image: x',
        '    extends: d',
        '  d:',
        '    image: y',
        '    extends: c',
        '',
      ].join('\n'),
    });
    expect(errors.map((e) => `${e.line}:${e.col} ${e.path}`)).toEqual([
      '3:5 services.a.extends',
      '5:27 services.b.extends.file',
      '8:5 services.c.extends',
    ]);
    expect(errors[0]!.message).toContain('"nope"');
    expect(errors[1]!.message).toContain('no such file');
    expect(errors[2]!.message).toContain('extends cycle: c → d → c');
  });
});

describe('include', () => {
  it('brings in services and resources of another project, with its own directory and .env', async () => {
    const { project, dir } = await loadOk({
      'compose.yaml':
        'include:\n  - db/compose.yaml\nservices:\n  web:\n    image: web\n    depends_on: [db]\n',
      'db/compose.yaml':
        'services:\n  db:\n    image: "postgres:${PG}"\n    volumes: ["./init:/init", "pgdata:/var/lib/postgresql"]\nvolumes:\n  pgdata: {}\n',
      'db/.env': 'PG=16\n',
    });
    expect(project.services.db!.image).toBe('postgres:16');
    expect(project.services.db!.volumes?.[0]?.source).toBe(`${dir}/db/init`);
    expect(project.volumes.pgdata).toBeDefined();
    expect(project.services.web!.depends_on).toEqual({
      db: { condition: 'service_started', required: true, restart: false },
    });
  });

  it('lets the including environment win and rejects conflicting names', async () => {
    const { project } = await loadOk(
      {
        'compose.yaml':
          'include:\n  - path: db/compose.yaml\n    env_file: db/custom.env\nservices:\n  web:\n    image: web\n',
        'db/compose.yaml': 'services:\n  db:\n    image: "postgres:${PG}"\n',
        'db/custom.env': 'PG=15\n',
      },
      { env: { PG: '17' } },
    );
    expect(project.services.db!.image).toBe('postgres:17');
    const errors = await loadErrors({
      'compose.yaml': 'include:\n  - other.yaml\nservices:\n  web:\n    image: web\n',
      'other.yaml': 'services:\n  web:\n    image: other\n',
    });
    expect(errors[0]).toMatchObject({
      line: 4,
      path: 'services.web',
      message: expect.stringContaining('also defined by the included file'),
    });
  });
});

describe('include cycles', () => {
  it('stops at a file that includes itself through another', async () => {
    const errors = await loadErrors({
      'compose.yaml': 'include: [a/compose.yaml]\nservices:\n  web: {image: web}\n',
      'a/compose.yaml': 'include: [../b/compose.yaml]\nservices:\n  a: {image: a}\n',
      'b/compose.yaml': 'include: [../a/compose.yaml]\nservices:\n  b: {image: b}\n',
    });
    expect(errors).toEqual([
      expect.objectContaining({
        file: 'compose.yaml',
        line: 1,
        path: 'include[0]',
        message: expect.stringContaining('include cycle'),
      }),
    ]);
  });
});

describe('profiles', () => {
  const file = [
    'services:',
    '  foo: {image: foo}',
    '  bar: {image: bar, profiles: [test]}',
    '  baz: {image: baz, profiles: [test], depends_on: [bar]}',
    '  zot: {image: zot, profiles: [debug], depends_on: [bar]}',
    '',
  ].join('\n');

  it('enables services by --profile and COMPOSE_PROFILES', async () => {
    const names = async (o: object) =>
      Object.keys((await loadOk({ 'compose.yaml': file }, o)).project.services);
    expect(await names({})).toEqual(['foo']);
    expect(await names({ profiles: ['test'] })).toEqual(['bar', 'baz', 'foo']);
    expect(await names({ env: { COMPOSE_PROFILES: 'test,debug' } })).toEqual(['bar', 'baz', 'foo', 'zot']);
    expect(await names({ profiles: ['*'] })).toEqual(['bar', 'baz', 'foo', 'zot']);
  });

  it('drops optional dependencies on disabled or missing services', async () => {
    const { project, warnings } = await loadOk({
      'compose.yaml':
        'services:\n  a:\n    image: a\n    depends_on:\n      b: {condition: service_started, required: false}\n      c: {condition: service_started, required: false}\n  b: {image: b, profiles: [x]}\n',
    });
    expect(project.services.a!.depends_on).toEqual({});
    expect(warnings).toEqual([expect.objectContaining({ line: 6, path: 'services.a.depends_on.c' })]);
  });

  it('errors when an active service depends on an inactive one', async () => {
    const errors = await loadErrors({ 'compose.yaml': file }, { profiles: ['debug'] });
    expect(errors).toEqual([
      expect.objectContaining({
        line: 5,
        path: 'services.zot.depends_on.bar',
        message: expect.stringContaining(
          'service "zot" depends on service "bar", which is not enabled by the active profiles',
        ),
      }),
    ]);
    expect(errors[0]!.message).toContain('--profile test');
  });
});
