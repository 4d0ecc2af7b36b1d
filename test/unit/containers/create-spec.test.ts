// A `docker run`'s create body to the runtime's spec: what is honoured, and what is
// refused by name rather than ignored.
import { describe, expect, it } from 'vitest';
import { standaloneSpec } from '../../../agent/containers/index.js';
import { isSkiffError } from '../../../lib/index.js';
import { lastSubnetOf } from '../../../node/single-node.js';

// What the docker 28 CLI sends for `docker run --rm busybox echo hi`, its zero values included.
const CLI_BODY = {
  Hostname: '',
  Domainname: '',
  User: '',
  AttachStdin: false,
  AttachStdout: true,
  AttachStderr: true,
  Tty: false,
  OpenStdin: false,
  StdinOnce: false,
  Env: null,
  Cmd: ['echo', 'hi'],
  Image: 'busybox',
  Volumes: {},
  WorkingDir: '',
  Entrypoint: null,
  OnBuild: null,
  Labels: {},
  HostConfig: {
    Binds: null,
    ContainerIDFile: '',
    LogConfig: { Type: '', Config: {} },
    NetworkMode: 'default',
    PortBindings: {},
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    AutoRemove: true,
    ConsoleSize: [0, 0],
    CapAdd: null,
    Privileged: false,
    MemorySwappiness: -1,
    Mounts: null,
  },
  NetworkingConfig: { EndpointsConfig: { default: {} } },
};

function refusal(body: unknown): string {
  try {
    standaloneSpec(body);
  } catch (e) {
    if (isSkiffError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error('not refused');
}

describe('standaloneSpec', () => {
  it("takes the docker CLI's body with its zero values", () => {
    const s = standaloneSpec(CLI_BODY);
    expect(s).toMatchObject({ image: 'busybox', networkMode: 'bridge', autoRemove: true, ports: [] });
    expect(s.spec).toEqual({ Image: 'busybox', Labels: {}, Args: ['echo', 'hi'] });
  });

  it('maps env, entrypoint, workdir, user, labels, binds and port bindings', () => {
    const s = standaloneSpec({
      Image: 'app:1',
      Entrypoint: ['/bin/sh', '-c'],
      Cmd: ['exec app'],
      Env: ['A=1'],
      WorkingDir: '/srv',
      User: '1000:1000',
      Labels: { tier: 'web' },
      StopTimeout: 3,
      HostConfig: {
        Binds: ['/host/data:/data:ro', 'named:/cache'],
        PortBindings: {
          '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }],
          '53/udp': [{ HostPort: '5353' }],
        },
        Init: true,
      },
    });
    expect(s.spec).toEqual({
      Image: 'app:1',
      Labels: { tier: 'web' },
      Command: ['/bin/sh', '-c'],
      Args: ['exec app'],
      Env: ['A=1'],
      Dir: '/srv',
      User: '1000:1000',
      StopGracePeriod: 3e9,
      Mounts: [
        { Type: 'bind', Source: '/host/data', Target: '/data', ReadOnly: true },
        { Type: 'volume', Source: 'named', Target: '/cache', ReadOnly: false },
      ],
      Init: true,
    });
    expect(s.ports).toEqual([
      { containerPort: 80, hostPort: 8080, protocol: 'tcp', hostIp: '127.0.0.1' },
      { containerPort: 53, hostPort: 5353, protocol: 'udp' },
    ]);
  });

  it('takes a terminal and stdin for docker run -it', () => {
    const s = standaloneSpec({
      Image: 'x',
      Tty: true,
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      HostConfig: { ConsoleSize: [24, 80] },
    });
    expect(s.spec).toMatchObject({ TTY: true, OpenStdin: true });
    expect(s.stdinOnce).toBe(true);
    // StdinOnce means nothing without a stdin held open.
    expect(standaloneSpec({ Image: 'x', StdinOnce: true }).stdinOnce).toBe(false);
  });

  it('joins user networks in order with their aliases, and takes -v specs from Volumes', () => {
    const s = standaloneSpec({
      Image: 'x',
      HostConfig: { NetworkMode: 'proj_default', Binds: ['/srv:/srv'] },
      NetworkingConfig: {
        EndpointsConfig: { back: { Aliases: ['db'] }, proj_default: { Aliases: ['web'] } },
      },
      Volumes: { '/srv': {}, 'v:/data:ro': {} },
    });
    expect(s.networkMode).toBe('proj_default');
    expect(s.endpoints).toEqual([
      { network: 'proj_default', aliases: ['web'] },
      { network: 'back', aliases: ['db'] },
    ]);
    expect(s.spec.Mounts).toEqual([
      { Type: 'bind', Source: '/srv', Target: '/srv', ReadOnly: false },
      { Type: 'volume', Source: 'v', Target: '/data', ReadOnly: true },
    ]);
    expect(standaloneSpec({ Image: 'x', HostConfig: { NetworkMode: 'none' } }).endpoints).toEqual([]);
    expect(standaloneSpec({ Image: 'x' }).endpoints).toEqual([{ network: 'bridge', aliases: [] }]);
  });

  it('leaves the host port to the node for -p PORT, HostPort 0 and -P', () => {
    const s = standaloneSpec({
      Image: 'x',
      ExposedPorts: { '80/tcp': {}, '53/udp': {}, '443/tcp': {} },
      HostConfig: {
        PortBindings: { '80/tcp': [{ HostPort: '' }], '443/tcp': [{ HostPort: '8443' }] },
        PublishAllPorts: true,
      },
    });
    expect(s.ports).toEqual([
      { containerPort: 80, hostPort: 0, protocol: 'tcp' },
      { containerPort: 443, hostPort: 8443, protocol: 'tcp' },
      { containerPort: 53, hostPort: 0, protocol: 'udp' },
    ]);
  });

  it('refuses by name what it does not honour', () => {
    expect(refusal({ Image: 'x', Tty: 'yes' })).toBe('invalid_argument: Tty must be true or false');
    expect(refusal({ Image: 'x', HostConfig: { Privileged: true } })).toContain(
      'HostConfig.Privileged is not supported',
    );
    expect(refusal({ Image: 'x', HostConfig: { Memory: 1 << 20 } })).toContain(
      'HostConfig.Memory is not supported',
    );
    expect(refusal({ Image: 'x', HostConfig: { RestartPolicy: { Name: 'always' } } })).toContain(
      "RestartPolicy 'always'",
    );
    expect(refusal({ Image: 'x', HostConfig: { NetworkMode: 'host' } })).toContain("NetworkMode 'host'");
    expect(
      refusal({ Image: 'x', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '8000-8010' }] } } }),
    ).toContain('a range is not supported');
    expect(refusal({ Image: 'x', HostConfig: { Binds: ['relative'] } })).toContain('SOURCE:/TARGET');
    expect(refusal({ Image: 'x', NetworkingConfig: { EndpointsConfig: { host: {} } } })).toContain(
      'EndpointsConfig.host',
    );
    expect(
      refusal({
        Image: 'x',
        NetworkingConfig: { EndpointsConfig: { n: { IPAMConfig: { IPv4Address: '10.0.0.9' } } } },
      }),
    ).toContain('EndpointsConfig.n.IPAMConfig is not supported');
    expect(
      refusal({ Image: 'x', NetworkingConfig: { EndpointsConfig: { bridge: { Aliases: ['web'] } } } }),
    ).toContain('only supported for user-defined networks');
    expect(refusal({ Image: 'x', Volumes: { '/data': {} } })).toContain(
      "Volumes '/data' (an anonymous volume)",
    );
    expect(refusal({ Cmd: ['true'] })).toContain('no image given');
    expect(refusal([])).toContain('JSON object');
    expect(refusal({ Image: 'x', Env: 'A=1' })).toContain('Env must be a list of strings');
  });
});

describe('lastSubnetOf', () => {
  it("is the last /24 of the node's address pool", () => {
    expect(lastSubnetOf('10.120.0.0/16')).toBe('10.120.255.0/24');
    expect(lastSubnetOf('10.0.0.0/8')).toBe('10.255.255.0/24');
    expect(lastSubnetOf('192.168.7.0/24')).toBe('192.168.7.0/24');
    expect(lastSubnetOf('nonsense')).toBeUndefined();
  });
});
