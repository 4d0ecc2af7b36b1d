// Lists a directory tree as sorted lines (`path type mode uid:gid [content|target|dev]`)
// so tests compare a mounted rootfs with exactly the tree they expect.
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export async function describeTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    const names = await readdir(join(root, rel));
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(root, path);
      const st = await lstat(abs);
      const mode = (st.mode & 0o7777).toString(8);
      const owner = `${st.uid}:${st.gid}`;
      if (st.isDirectory()) {
        out.push(`${path} dir ${mode} ${owner}`);
        await walk(path);
      } else if (st.isSymbolicLink()) {
        out.push(`${path} symlink ${owner} -> ${await readlink(abs)}`);
      } else if (st.isFile()) {
        out.push(
          `${path} file ${mode} ${owner} ${JSON.stringify((await readFile(abs, 'utf8')).slice(0, 40))} nlink=${st.nlink}`,
        );
      } else if (st.isCharacterDevice()) {
        out.push(`${path} chardev ${mode} ${owner} ${Math.floor(st.rdev / 256)},${st.rdev % 256}`);
      } else if (st.isFIFO()) {
        out.push(`${path} fifo ${mode} ${owner}`);
      } else {
        out.push(`${path} other`);
      }
    }
  };
  await walk('');
  return out.sort();
}
