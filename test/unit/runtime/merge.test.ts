import { describe, expect, it } from 'vitest';
import { parseHardLimits } from '../../../agent/runtime/host-limits.js';
import {
  hostsFile,
  mergeArgs,
  mergeEnv,
  mergeWorkdir,
  normalizeSignal,
  parseGroup,
  parsePasswd,
  resolvConfFile,
  resolveUser,
} from '../../../agent/runtime/index.js';

const spec = { Image: 'x' };

describe('mergeArgs (Docker entrypoint/cmd rules)', () => {
  const image = { Entrypoint: ['/ep'], Cmd: ['a', 'b'] };
  it.each([
    ['image only', {}, ['/ep', 'a', 'b']],
    ['Args replace Cmd', { Args: ['c'] }, ['/ep', 'c']],
    ['Command replaces Entrypoint and drops Cmd', { Command: ['/cmd'] }, ['/cmd']],
    ['Command with Args', { Command: ['/cmd'], Args: ['d'] }, ['/cmd', 'd']],
    ['empty Command keeps the image', { Command: [] }, ['/ep', 'a', 'b']],
  ])('%s', (_name, s, expected) => {
    expect(mergeArgs(image, { ...spec, ...s })).toEqual(expected);
  });
  it('uses Cmd alone when the image has no entrypoint, and refuses nothing to run', () => {
    expect(mergeArgs({ Cmd: ['sh'] }, spec)).toEqual(['sh']);
    expect(() => mergeArgs({ Entrypoint: null, Cmd: null }, spec)).toThrow(/no command to run/);
  });
});

describe('mergeEnv', () => {
  it('overrides image values by key, keeps = in values, defaults PATH, sets HOSTNAME, HOME and TERM', () => {
    const env = mergeEnv(
      { Env: ['A=1', 'B=2', 'PATH=/image/bin'] },
      { ...spec, Env: ['B=3', 'C=x=y', 'BARE'] },
      {
        hostname: 'h1',
        home: '/home/app',
        tty: true,
      },
    );
    expect(env).toEqual([
      'PATH=/image/bin',
      'HOSTNAME=h1',
      'A=1',
      'B=3',
      'C=x=y',
      'TERM=xterm',
      'HOME=/home/app',
    ]);
    expect(mergeEnv({}, spec, { hostname: 'h' })[0]).toBe(
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    );
  });
});

describe('mergeWorkdir', () => {
  it('prefers the spec, then the image, then /, and wants an absolute path', () => {
    expect(mergeWorkdir({ WorkingDir: '/img' }, { ...spec, Dir: '/spec' })).toBe('/spec');
    expect(mergeWorkdir({ WorkingDir: '/img' }, spec)).toBe('/img');
    expect(mergeWorkdir({}, spec)).toBe('/');
    expect(() => mergeWorkdir({}, { ...spec, Dir: 'rel' })).toThrow(/not an absolute path/);
  });
});

describe('resolveUser', () => {
  const passwd = parsePasswd(
    'root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1000::/home/app:/bin/sh\nbad line\n',
  );
  const groups = parseGroup('root:x:0:\napp:x:1000:\nstaff:x:50:app,other\naudio:x:29:app\n');
  it.each([
    ['', { uid: 0, gid: 0, additionalGids: [], home: '/root' }],
    ['app', { uid: 1000, gid: 1000, additionalGids: [29, 50], home: '/home/app' }],
    ['1000', { uid: 1000, gid: 1000, additionalGids: [29, 50], home: '/home/app' }],
    ['app:staff', { uid: 1000, gid: 50, additionalGids: [], home: '/home/app' }],
    ['1000:7', { uid: 1000, gid: 7, additionalGids: [], home: '/home/app' }],
    ['5000', { uid: 5000, gid: 0, additionalGids: [], home: '/' }],
  ])('%j', (user, expected) => {
    expect(resolveUser(user, passwd, groups)).toEqual(expected);
  });
  it('adds the spec groups and rejects unknown names', () => {
    expect(resolveUser('root', passwd, groups, ['audio', '77']).additionalGids).toEqual([29, 77]);
    expect(() => resolveUser('ghost', passwd, groups)).toThrow(/'ghost' is not in the image's \/etc\/passwd/);
    expect(() => resolveUser('app:ghosts', passwd, groups)).toThrow(/group 'ghosts'/);
  });
});

describe('signals and host limits', () => {
  it('normalizes signal spellings', () => {
    expect(normalizeSignal('term')).toBe('SIGTERM');
    expect(normalizeSignal('SIGQUIT')).toBe('SIGQUIT');
    expect(normalizeSignal('9')).toBe('SIGKILL');
    expect(() => normalizeSignal('SIGNOPE')).toThrow(/unknown signal/);
  });
  it('parses /proc/self/limits', () => {
    const text = [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max open files            1024                 20000                files     ',
      'Max processes             unlimited            unlimited            processes ',
    ].join('\n');
    expect(parseHardLimits(text)).toEqual({ RLIMIT_NOFILE: 20000 });
  });
});

describe('/etc files', () => {
  it('writes hosts with the container name and the spec entries in both accepted forms', () => {
    const text = hostsFile('web-1', ['10.0.0.5 db db.internal', 'cache:10.0.0.6']);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('127.0.0.1\tlocalhost');
    expect(lines).toContain('127.0.1.1\tweb-1');
    expect(lines.slice(-2)).toEqual(['10.0.0.5\tdb db.internal', '10.0.0.6\tcache']);
  });

  it("writes resolv.conf from DNSConfig, filling gaps from the host's file without loopback servers", () => {
    const host = 'nameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch corp.example\noptions ndots:2\n';
    expect(resolvConfFile(undefined, host)).toBe(
      'nameserver 192.0.2.1\nsearch corp.example\noptions ndots:2\n',
    );
    expect(resolvConfFile({ Nameservers: ['10.0.0.2'], Search: ['svc.local'] }, host)).toBe(
      'nameserver 10.0.0.2\nsearch svc.local\noptions ndots:2\n',
    );
    expect(resolvConfFile(undefined, '')).toBe('\n');
  });
});
