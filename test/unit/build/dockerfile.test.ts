import { describe, expect, it } from 'vitest';
import { dockerfileImages } from '../../../agent/build/index.js';
import { parseBuildQuery, parseCredentials } from '../../../node/api/index.js';

describe('dockerfileImages', () => {
  it('finds the images stages start and copy from, after global ARGs and build args', () => {
    const text = [
      '# escape=\\',
      'ARG BASE=alpine',
      'ARG TAG',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile syntax, not a template
      'FROM ${BASE}:${TAG:-3} AS build',
      'RUN make \\',
      '  all',
      'FROM scratch',
      'COPY --from=build /out /out',
      'COPY --from=busybox:1 /bin/busybox /bin/',
      'FROM build AS last',
    ].join('\n');
    expect(dockerfileImages(text).images).toEqual(['alpine:3', 'busybox:1']);
    expect(dockerfileImages(text, { BASE: 'debian', TAG: '12' }).images).toEqual(['debian:12', 'busybox:1']);
    expect(dockerfileImages(text, {}, 'build').images).toEqual(['alpine:3']);
    expect(() => dockerfileImages(text, {}, 'nope')).toThrow('target stage "nope" could not be found');
  });
});

describe('POST /build parameters', () => {
  it('reads what docker build sends and passes its unset defaults', () => {
    const r = parseBuildQuery({
      t: ['x:1', 'x:2'],
      dockerfile: 'Dockerfile',
      buildargs: '{"A":"1","B":null}',
      labels: '{"l":"v"}',
      nocache: '1',
      memory: '0',
      cachefrom: '[]',
      networkmode: 'default',
      version: '1',
    });
    expect(r).toMatchObject({
      tags: ['x:1', 'x:2'],
      buildArgs: { A: '1' },
      labels: { l: 'v' },
      noCache: true,
    });
  });

  it('refuses by name what skiff does not honour, and BuildKit', () => {
    expect(() => parseBuildQuery({ memory: '1000000' })).toThrow('"memory" is not supported');
    expect(() => parseBuildQuery({ version: '2' })).toThrow('BuildKit');
    expect(() => parseBuildQuery({ networkmode: 'none' })).toThrow('build network "none"');
  });

  it('reads the credentials block of skiff CLI builds: ids checked, agent sockets from this machine only', () => {
    expect(parseBuildQuery({ skiffcredentials: '120' }).credentialsBytes).toBe(120);
    expect(() => parseBuildQuery({ skiffcredentials: '99999999' })).toThrow('at most');
    expect(() => parseBuildQuery({ skiffcredentials: '-1' })).toThrow('byte count');
    const block = (v: object) => Buffer.from(JSON.stringify(v));
    const r = parseCredentials(
      block({
        secrets: [{ id: 'tok', data: Buffer.from('s3cret').toString('base64') }],
        ssh: [
          { id: 'default', socket: '/tmp/agent.sock' },
          { id: 'k', key: 'a2V5' },
        ],
      }),
      true,
    );
    expect(r.secrets?.[0]?.data.toString()).toBe('s3cret');
    expect(r.ssh).toEqual([
      { id: 'default', socket: '/tmp/agent.sock' },
      { id: 'k', key: Buffer.from('key') },
    ]);
    expect(() => parseCredentials(block({ ssh: [{ id: 'default', socket: '/s' }] }), false)).toThrow(
      "only a client on the node's own machine",
    );
    expect(() => parseCredentials(block({ secrets: [{ id: 'a,src=/etc/shadow', data: '' }] }), true)).toThrow(
      'is not valid',
    );
    expect(() =>
      parseCredentials(
        block({
          secrets: [
            { id: 'a', data: '' },
            { id: 'a', data: '' },
          ],
        }),
        true,
      ),
    ).toThrow('given twice');
  });
});
