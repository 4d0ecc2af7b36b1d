// `--format json` on the ls and ps commands, against the real docker CLI on the same
// node: docker 28 prints one `{{json .}}` line per row (the row object its table and
// templates see), and skiff prints the same lines: the same keys, the same values but
// for the ages.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { freePort } from '../../lab/ports.js';
import { waitFor } from '../../lab/wait.js';
import { dockerNode } from '../../support/docker-cli.js';

const IMAGE = 'localhost/jsonl-busybox:1';

const d = dockerNode({
  image: IMAGE,
  page: 'json lines\n',
  tmpPrefix: 'skiff-jsonl-',
  cleanup: () => [
    ['service', 'rm', 'jl-web'],
    ['secret', 'rm', 'jl-secret'],
    ['config', 'rm', 'jl-config'],
    ['network', 'rm', 'jl-net'],
    ['volume', 'rm', 'jl-vol'],
  ],
});

function rows(out: string, ages: boolean): Record<string, unknown>[] {
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const row = JSON.parse(l) as Record<string, unknown>;
      if (ages)
        for (const [k, v] of Object.entries(row)) {
          // An age ("Running 3 seconds ago") moves between the two commands: compared by key.
          if (typeof v === 'string' && v.endsWith(' ago')) row[k] = 'age';
        }
      // docker joins labels in Go's random map order; skiff sorts them.
      if (typeof row.Labels === 'string') row.Labels = row.Labels.split(',').sort().join(',');
      return row;
    });
}

it('prints the rows of every ls and ps as docker does, one JSON object a line', async () => {
  const port = await freePort();
  writeFileSync(join(d.dir, 'data.txt'), 'x');
  await d.ok(['network', 'create', '-d', 'overlay', '--label', 'b=2', '--label', 'a=1', 'jl-net']);
  await d.ok(['secret', 'create', '-l', 'tier=back', 'jl-secret', join(d.dir, 'data.txt')]);
  await d.ok(['config', 'create', 'jl-config', join(d.dir, 'data.txt')]);
  await d.ok(['volume', 'create', '--label', 'keep=yes', 'jl-vol']);
  await d.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'jl-web',
    '--label',
    'com.docker.stack.namespace=jl',
    '--network',
    'jl-net',
    '-p',
    `${port}:80`,
    IMAGE,
    'httpd',
    '-f',
    '-h',
    '/www',
  ]);
  await waitFor(
    async () => (await d.ok(['service', 'ls', '--format', '{{.Replicas}}'])) === '1/1' || undefined,
    {
      what: 'jl-web running',
      timeoutMs: 60_000,
    },
  );

  const commands = [
    ['service', 'ls'],
    ['service', 'ps', 'jl-web'],
    ['service', 'ps', '--no-trunc', 'jl-web'],
    ['node', 'ls'],
    ['node', 'ps'],
    ['stack', 'ls'],
    ['stack', 'services', 'jl'],
    ['image', 'ls'],
    ['image', 'ls', '--digests', '--no-trunc'],
    ['secret', 'ls'],
    ['config', 'ls'],
    ['network', 'ls'],
    ['volume', 'ls'],
  ];
  for (const args of commands) {
    const theirs = await d.ok([...args, '--format', 'json']);
    const ours = await d.node.skiff([...args, '--format', 'json']);
    expect(ours.code, ours.stderr).toBe(0);
    const what = `${args.join(' ')} --format json`;
    expect(theirs, what).not.toBe('');
    // The same keys in the same (sorted) order, line by line.
    expect(
      rows(ours.stdout, false).map((r) => Object.keys(r)),
      what,
    ).toEqual(rows(theirs, false).map((r) => Object.keys(r)));
    expect(rows(ours.stdout, true), what).toEqual(rows(theirs, true));
  }
  // Byte for byte where nothing is an age: Go's escapes included (`->` as `-\u003e`).
  const services = await d.node.skiff(['service', 'ls', '--format', 'json']);
  expect(services.stdout).toBe(`${await d.ok(['service', 'ls', '--format', 'json'])}\n`);
  expect(services.stdout).toContain(`"Ports":"*:${port}-\\u003e80/tcp"`);
}, 180_000);
