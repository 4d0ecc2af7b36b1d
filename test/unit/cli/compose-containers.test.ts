// The pure parts of compose kill/top/cp and of `-q`: which side of a copy is the
// container, where docker cp puts what it copies, the signal names docker takes, compose
// top's layout, and the IDs `-q` prints under docker's rule for each command.
import { describe, expect, it } from 'vitest';
import { psJson } from '../../../cli/commands/compose.js';
import {
  checkSignal,
  copyFromPlan,
  copyToPlan,
  parseCopyArgs,
  renderTop,
  runningContainers,
} from '../../../cli/commands/compose-containers.js';
import { quietLines } from '../../../cli/output.js';
import type { EnginePathStat, Service, Task } from '../../../lib/index.js';

const dir: EnginePathStat = { name: 'tmp', size: 0, mode: 2 ** 31 + 0o755, mtime: '', linkTarget: '' };
const file: EnginePathStat = { name: 'a.txt', size: 3, mode: 0o644, mtime: '', linkTarget: '' };

describe('compose cp arguments', () => {
  it('takes SERVICE:PATH on exactly one side', () => {
    expect(parseCopyArgs('web:/etc/hosts', './hosts')).toEqual({
      direction: 'from',
      service: 'web',
      containerPath: '/etc/hosts',
      localPath: './hosts',
    });
    expect(parseCopyArgs('-', 'web:/tmp')).toEqual({
      direction: 'to',
      service: 'web',
      containerPath: '/tmp',
      localPath: '-',
    });
    // A colon after a slash is part of a local path.
    expect(parseCopyArgs('./a:b', 'web:/tmp').localPath).toBe('./a:b');
    expect(() => parseCopyArgs('a:/x', 'b:/y')).toThrow(/between services/);
    expect(() => parseCopyArgs('./x', './y')).toThrow(/SERVICE:PATH/);
    expect(() => parseCopyArgs('web:', './y')).toThrow(/must not be empty/);
  });

  it('into a container: an existing directory keeps the source name, a new path renames it', () => {
    expect(copyToPlan('/tmp', dir, { name: 'note.txt', isDir: false })).toEqual({
      dir: '/tmp',
      name: 'note.txt',
    });
    expect(copyToPlan('/tmp/new.txt', undefined, { name: 'note.txt', isDir: false })).toEqual({
      dir: '/tmp',
      name: 'new.txt',
    });
    expect(copyToPlan('/etc/a.txt', file, { name: 'b.txt', isDir: false })).toEqual({
      dir: '/etc',
      name: 'a.txt',
    });
    expect(() => copyToPlan('/etc/a.txt', file, { name: 'tree', isDir: true })).toThrow(
      /directory onto the file/,
    );
    expect(() => copyToPlan('/nowhere/', undefined, { name: 'a', isDir: false })).toThrow(/does not exist/);
  });

  it('out of a container: the same rules on the host', () => {
    expect(copyFromPlan('/out', { isDir: true }, { name: 'tree', isDir: true })).toEqual({
      dir: '/out',
      name: 'tree',
    });
    expect(copyFromPlan('/out/copy', undefined, { name: 'tree', isDir: true })).toEqual({
      dir: '/out',
      name: 'copy',
    });
    expect(() => copyFromPlan('/out/f', { isDir: false }, { name: 'tree', isDir: true })).toThrow(
      /directory onto the file/,
    );
    expect(() => copyFromPlan('/out/missing/', undefined, { name: 'a', isDir: false })).toThrow(
      /does not exist/,
    );
  });
});

describe('compose kill signals', () => {
  it('takes names with or without SIG, and numbers', () => {
    expect(checkSignal('SIGHUP')).toBe('SIGHUP');
    expect(checkSignal('usr1')).toBe('SIGUSR1');
    expect(checkSignal('9')).toBe('9');
    expect(() => checkSignal('0')).toThrow(/invalid signal/);
    expect(() => checkSignal('KILL ME')).toThrow(/invalid signal/);
  });
});

describe('compose top and the containers it shows', () => {
  it('prints each container name, its process table, then a blank line', () => {
    const out = renderTop([
      {
        name: 'p-web-1',
        top: { Titles: ['UID', 'PID', 'CMD'], Processes: [['root', '4242', 'sleep 10']] },
      },
    ]);
    expect(out).toMatch(/^p-web-1\nUID\s+PID\s+CMD\nroot\s+4242\s+sleep 10\n\n$/);
  });

  it('lists only running tasks of the services, by service and slot, named as compose ps', () => {
    const svc = (id: string, name: string) => ({ ID: id, Spec: { Name: name } }) as Service;
    const task = (id: string, service: string, slot: number, state: string, desired = 'running') =>
      ({
        ID: id,
        ServiceID: service,
        Slot: slot,
        NodeID: 'n1',
        DesiredState: desired,
        Status: { State: state },
      }) as Task;
    const out = runningContainers(
      'p',
      [svc('s2', 'p_web'), svc('s1', 'p_db')],
      [
        task('t3', 's2', 2, 'running'),
        task('t2', 's2', 1, 'running'),
        task('t1', 's1', 1, 'running'),
        task('t0', 's1', 1, 'failed', 'shutdown'),
        task('t4', 's2', 3, 'preparing'),
      ],
    );
    expect(out.map((c) => [c.id, c.name])).toEqual([
      ['t1', 'p-db-1'],
      ['t2', 'p-web-1'],
      ['t3', 'p-web-2'],
    ]);
  });
});

describe('-q as docker prints it', () => {
  const swarm = ['vv1io0tfutnggvyyw3s3fo03p'];
  it('full, short (always 12) and trunc (12 unless --no-trunc)', () => {
    expect(quietLines(swarm, 'full')).toBe('vv1io0tfutnggvyyw3s3fo03p\n');
    expect(quietLines(swarm, 'short', false)).toBe('vv1io0tfutng\n');
    expect(quietLines(swarm, 'trunc')).toBe('vv1io0tfutng\n');
    expect(quietLines(swarm, 'trunc', false)).toBe('vv1io0tfutnggvyyw3s3fo03p\n');
  });
  it('an image ID loses sha256: when cut, keeps it whole', () => {
    const img = `sha256:${'ab'.repeat(32)}`;
    expect(quietLines([img], 'trunc')).toBe('abababababab\n');
    expect(quietLines([img], 'trunc', false)).toBe(`${img}\n`);
  });
});

describe('compose ps --format json', () => {
  it('is one object a line with docker compose’s fields and container states', () => {
    const line = psJson(
      {
        ID: 't1',
        Name: 'p-web-1',
        Image: 'busybox',
        Command: '"sleep 1"',
        Service: 'web',
        Created: '5 seconds ago',
        Status: 'Exited (0)',
        State: 'complete',
        Ports: '',
      },
      'p',
    );
    expect(line).toMatchObject({ ID: 't1', Name: 'p-web-1', Project: 'p', Service: 'web', State: 'exited' });
  });
});
