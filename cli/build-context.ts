// A build context as docker's CLI sends it: the context directory as a tar stream, less
// what its `.dockerignore` excludes (matched with @balena/dockerignore, docker's own
// rules — anchored at the context root, `**`, `!` exceptions — which gitignore-style
// matchers get wrong), the Dockerfile and `.dockerignore` always included. A Dockerfile
// given inline travels in the tar under a name of its own.
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import dockerignore, { type Ignore } from '@balena/dockerignore';
import { create } from 'tar';
import { SkiffError } from '../lib/index.js';

// A CommonJS module whose typings declare an ES default: Node hands the function itself.
const ignore = dockerignore as unknown as () => Ignore;

export interface BuildContext {
  tar: Readable;
  /** The Dockerfile's path inside the tar, for `POST /build?dockerfile=`. */
  dockerfile: string;
  /** Removes what making the context left behind (an inline Dockerfile's file). */
  cleanup(): Promise<void>;
}

/**
 * The tar of `dir` for a build; `dockerfile` is a path relative to `dir` (default
 * `Dockerfile`), `inline` a Dockerfile's text that replaces it.
 */
export async function buildContext(dir: string, dockerfile?: string, inline?: string): Promise<BuildContext> {
  const root = resolve(dir);
  const info = await stat(root).catch(() => undefined);
  if (!info?.isDirectory())
    throw new SkiffError('invalid_argument', `the build context ${dir} is not a directory`);
  const patterns = await readFile(join(root, '.dockerignore'), 'utf8').then(
    (t) => t.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#')),
    () => [] as string[],
  );
  const ig = ignore().add(patterns);
  const exceptions = patterns.some((p) => p.trimStart().startsWith('!'));
  let extra: string | undefined;
  let name: string;
  if (inline !== undefined) {
    name = `.dockerfile.${randomBytes(8).toString('hex')}`;
    extra = join(tmpdir(), `skiff-${name}.tar`);
    const file = join(tmpdir(), `skiff-${name}`);
    await writeFile(file, inline, { mode: 0o600 });
    try {
      await create({ file: extra, cwd: tmpdir(), portable: true }, [`skiff-${name}`]);
    } finally {
      await rm(file, { force: true });
    }
    // The entry's name in that tar carries the temporary prefix; it is named as sent below.
    name = `skiff-${name}`;
  } else {
    name = dockerfile ?? 'Dockerfile';
    const rel = relative(root, resolve(root, name));
    if (rel.startsWith('..') || isAbsolute(rel))
      throw new SkiffError('unsupported', `the Dockerfile ${name} lies outside the build context ${dir}`, {
        hint: 'move it into the context, or give it inline (dockerfile_inline)',
      });
    name = rel;
  }
  const always = new Set([name, '.dockerignore']);
  const keep = (path: string, isDir: boolean) => {
    const p = path.replace(/^\.\//, '');
    if (p === '' || always.has(p)) return true;
    if (!ig.ignores(p)) return true;
    // An excluded directory may hold an exception (`!dir/keep`): look inside it.
    return isDir && exceptions;
  };
  const entries = await readdir(root);
  // node-tar's stream is a Minipass; the HTTP client sends a Node Readable as a body.
  const pack = create(
    {
      cwd: root,
      portable: true,
      filter: (path, st) => keep(path, 'isDirectory' in st && st.isDirectory()),
    },
    [...entries, ...(extra ? [`@${extra}`] : [])],
  );
  const tar: Readable = pack.pipe(new PassThrough());
  return {
    tar,
    dockerfile: name,
    cleanup: async () => {
      if (extra) await rm(extra, { force: true });
    },
  };
}
