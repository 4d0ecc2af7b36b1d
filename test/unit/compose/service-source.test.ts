// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose files use ${VAR} syntax, which these tests feed in and expect back as written
// Each service's sections of its compose files as written (compose/service-source.ts via
// loadProject's `sources`): comments kept, nothing interpolated, every file that defines
// the service named, in merge order.
import { describe, expect, it } from 'vitest';
import { load } from './helpers.js';

async function sources(tree: Record<string, string>, files?: string[]) {
  const { result } = await load(tree, {
    sources: true,
    env: { TAG: '2', DB_PASSWORD: 's3cret' },
    ...(files ? { files } : {}),
  });
  if (!result.ok) throw new Error(result.errors.map((e) => e.message).join('\n'));
  return result.sources ?? {};
}

const FILE = `name: shop
# shared settings
x-common: &common
  restart: always

services:
  # The front end; pinned by TAG.
  web:
    <<: *common
    image: registry.local/web:\${TAG}   # interpolated on deploy, not here
    environment:
      DB_PASSWORD: \${DB_PASSWORD}
      # DEBUG: "1"

  # The database.
  db:
    image: postgres:16
    secrets: [db_password]
secrets:
  db_password:
    file: ./db_password.txt
`;

describe('service sources', () => {
  it("gives each service its own lines, its comments, and never a variable's value", async () => {
    const got = await sources({ 'compose.yaml': FILE, 'db_password.txt': 'hunter2' });
    expect(got.web).toEqual([
      {
        file: 'compose.yaml',
        line: 7,
        text: [
          '  # The front end; pinned by TAG.',
          '  web:',
          '    <<: *common',
          '    image: registry.local/web:${TAG}   # interpolated on deploy, not here',
          '    environment:',
          '      DB_PASSWORD: ${DB_PASSWORD}',
          '      # DEBUG: "1"',
        ].join('\n'),
      },
    ]);
    expect(got.db).toEqual([
      {
        file: 'compose.yaml',
        line: 15,
        text: '  # The database.\n  db:\n    image: postgres:16\n    secrets: [db_password]',
      },
    ]);
    expect(JSON.stringify(got)).not.toMatch(/s3cret|hunter2/);
  });

  it('names every file that defines a service, in merge order, with CRLF line ends too', async () => {
    const got = await sources(
      {
        'compose.yaml': 'services:\r\n  web:\r\n    image: a\r\n',
        'ops/override.yaml': 'services:\n  web:\n    ports: ["8080:80"]\n  extra:\n    image: b\n',
      },
      ['compose.yaml', 'ops/override.yaml'],
    );
    expect(got.web).toEqual([
      { file: 'compose.yaml', line: 2, text: '  web:\n    image: a' },
      { file: 'ops/override.yaml', line: 2, text: '  web:\n    ports: ["8080:80"]' },
    ]);
    expect(got.extra).toEqual([{ file: 'ops/override.yaml', line: 4, text: '  extra:\n    image: b' }]);
  });

  it('gives the services of an included file from that file', async () => {
    const got = await sources({
      'compose.yaml': 'include:\n  - lib/cache.yaml\nservices:\n  web:\n    image: a\n',
      'lib/cache.yaml': 'services:\n  cache:\n    image: redis\n',
    });
    expect(got.cache).toEqual([{ file: 'lib/cache.yaml', line: 2, text: '  cache:\n    image: redis' }]);
    expect(got.web).toEqual([{ file: 'compose.yaml', line: 4, text: '  web:\n    image: a' }]);
  });

  it('takes the one line of a flow-style mapping', async () => {
    const got = await sources({ 'compose.yaml': 'services: {web: {image: a}}\n' });
    expect(got.web).toEqual([{ file: 'compose.yaml', line: 1, text: 'services: {web: {image: a}}' }]);
  });

  it('is only computed when asked', async () => {
    const { result } = await load({ 'compose.yaml': 'services:\n  web:\n    image: a\n' });
    expect(result.ok && result.sources).toBe(undefined);
  });
});
