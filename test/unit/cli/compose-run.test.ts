import { describe, expect, it } from 'vitest';
import { dependencyClosure, oneOffSpec } from '../../../cli/commands/compose-exec.js';
import {
  decodeFrames,
  encodeFrame,
  COMPOSE_ONEOFF_LABEL as ONEOFF_LABEL,
  type ServiceSpec,
  STATUS,
  STDERR,
  STDOUT,
} from '../../../lib/index.js';
import { ExecBodySchema } from '../../../node/api/index.js';

async function* chunks(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

describe('exec stream frames', () => {
  it('decode whatever the chunk boundaries', async () => {
    const wire = Buffer.concat([
      encodeFrame(STDOUT, 'hello\n'),
      encodeFrame(STDERR, Buffer.from([0, 1, 2])),
      encodeFrame(STATUS, '{"ExitCode":3}'),
    ]);
    for (const size of [1, 3, 7, wire.length]) {
      const frames = [];
      for await (const f of decodeFrames(chunks(wire, size)))
        frames.push([f.stream, f.payload.toString('hex')]);
      expect(frames).toEqual([
        [STDOUT, Buffer.from('hello\n').toString('hex')],
        [STDERR, '000102'],
        [STATUS, Buffer.from('{"ExitCode":3}').toString('hex')],
      ]);
    }
  });

  it('refuse a stream cut inside a frame', async () => {
    const cut = encodeFrame(STDOUT, 'hello').subarray(0, 10);
    await expect(async () => {
      for await (const _ of decodeFrames(chunks(cut, 4))) {
        // drain
      }
    }).rejects.toThrow(/ended inside a frame/);
  });
});

describe('compose run', () => {
  const spec: ServiceSpec = {
    Name: 'shop_web',
    Labels: { 'io.skiff.spec-hash': 'abc', 'io.skiff.depends_on': '[]', keep: 'yes' },
    Mode: { Replicated: { Replicas: 3 } },
    TaskTemplate: {
      ContainerSpec: { Image: 'app:1', Command: ['/entry'], Args: ['serve'], Env: ['A=1', 'B=2'] },
      RestartPolicy: { Condition: 'any' },
    },
    EndpointSpec: { Mode: 'vip', Ports: [{ TargetPort: 80, PublishedPort: 8080, Protocol: 'tcp' }] },
  };

  it('makes a one-task job of the service’s spec with the command, env and user overridden', () => {
    const o = oneOffSpec(spec, 'shop_web_run_1', 'shop', ['sh', '-c', 'exit 3'], {
      env: ['B=3', 'C=4'],
      user: 'app',
      workdir: '/tmp',
    });
    expect(o.Name).toBe('shop_web_run_1');
    expect(o.Mode).toEqual({ ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } });
    expect(o.TaskTemplate?.RestartPolicy).toEqual({ Condition: 'none' });
    const cs = o.TaskTemplate?.ContainerSpec;
    expect(cs?.Command).toEqual(['/entry']);
    expect(cs?.Args).toEqual(['sh', '-c', 'exit 3']);
    expect(cs?.Env).toEqual(['A=1', 'B=3', 'C=4']);
    expect(cs?.User).toBe('app');
    expect(cs?.Dir).toBe('/tmp');
    // No published ports (they belong to the service), no spec hash, the one-off label.
    expect(o.EndpointSpec?.Ports).toBeUndefined();
    expect(o.Labels?.['io.skiff.spec-hash']).toBeUndefined();
    expect(o.Labels?.[ONEOFF_LABEL]).toBe('True');
    expect(o.Labels?.['com.docker.stack.namespace']).toBe('shop');
    expect(o.Labels?.['com.docker.compose.service']).toBe('web');
    expect(o.Labels?.keep).toBe('yes');
    // The service's own spec is left as it was.
    expect(spec.TaskTemplate?.ContainerSpec?.Args).toEqual(['serve']);
  });

  it('drops the service’s command with a new entrypoint, as docker does', () => {
    const o = oneOffSpec(spec, 'x', 'shop', [], { env: [], entrypoint: 'echo hi' });
    expect(o.TaskTemplate?.ContainerSpec?.Command).toEqual(['echo', 'hi']);
    expect(o.TaskTemplate?.ContainerSpec?.Args).toEqual([]);
  });

  it('starts the dependencies of dependencies, once each, cycles or not', () => {
    const deps = {
      web: [{ service: 'api' }, { service: 'cache' }],
      api: [{ service: 'db' }, { service: 'cache' }],
      db: [{ service: 'web' }],
    };
    expect(dependencyClosure(deps, 'web').sort()).toEqual(['api', 'cache', 'db']);
    expect(dependencyClosure(deps, 'cache')).toEqual([]);
  });
});

describe('the exec request at the API edge', () => {
  it('accepts a command with options and refuses what is not one', () => {
    expect(ExecBodySchema.safeParse({ Cmd: ['env'], Env: ['A=1'], Tty: false, Stdin: 'aGk=' }).success).toBe(
      true,
    );
    for (const bad of [
      {},
      { Cmd: [] },
      { Cmd: ['env'], Env: ['NOEQUALS'] },
      { Cmd: ['env'], Stdin: 'not base64!' },
      { Cmd: ['env'], Privileged: true },
      { Cmd: 'env' },
    ]) {
      expect(ExecBodySchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
