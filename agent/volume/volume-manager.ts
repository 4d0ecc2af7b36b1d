// Named local volumes: a directory per volume under the node's state directory
// (`<root>/<name>/_data`), its metadata beside it, and one reference file per
// container using it (`<root>/<name>/refs/<containerId>`) so "in use" survives an
// agent restart. Volumes live until removed; removal of a volume in use is refused.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Labels, SkiffError } from '../../lib/index.js';

/** The volume as `docker volume inspect` shows it. */
export interface VolumeInfo {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Labels;
  Options: Record<string, string>;
  Scope: 'local';
  /** Containers using the volume right now. */
  UsedBy: string[];
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function validateVolumeName(name: string): void {
  if (!NAME_RE.test(name) || name.length > 255) {
    throw new SkiffError('invalid_argument', `'${name}' is not a valid volume name`, {
      hint: 'a volume name starts with a letter or digit and holds only letters, digits, _ . -',
    });
  }
}

export class VolumeManager {
  readonly root: string;

  constructor(opts: { root: string }) {
    this.root = opts.root;
  }

  /** Creates the volume when missing (first use) and returns it; `created` tells which. */
  async ensure(
    name: string,
    opts: { driver?: string; labels?: Labels } = {},
  ): Promise<VolumeInfo & { created: boolean }> {
    validateVolumeName(name);
    if (opts.driver !== undefined && opts.driver !== 'local') {
      throw new SkiffError(
        'unsupported',
        `volume driver '${opts.driver}' is not supported (volume '${name}')`,
        {
          hint: "skiff supports the 'local' driver only",
        },
      );
    }
    const existing = await this.find(name);
    if (existing) return { ...existing, created: false };
    const dir = join(this.root, name);
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    // Build in a temporary directory and rename, so a crash never leaves half a volume.
    const tmp = join(this.root, `.tmp-${name}-${randomBytes(4).toString('hex')}`);
    await mkdir(join(tmp, '_data'), { recursive: true, mode: 0o755 });
    await mkdir(join(tmp, 'refs'));
    const meta = { Name: name, CreatedAt: new Date().toISOString(), Labels: { ...(opts.labels ?? {}) } };
    await writeFile(join(tmp, 'volume.json'), JSON.stringify(meta));
    try {
      await rename(tmp, dir);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      const raced = await this.find(name);
      if (raced) return { ...raced, created: false };
      throw e;
    }
    return { ...(await this.inspect(name)), created: true };
  }

  async inspect(name: string): Promise<VolumeInfo> {
    validateVolumeName(name);
    const v = await this.find(name);
    if (!v) {
      throw new SkiffError('not_found', `no such volume: ${name}`, {
        hint: 'list volumes with `skiff volume ls`',
      });
    }
    return v;
  }

  async list(): Promise<VolumeInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch {
      return [];
    }
    const out: VolumeInfo[] = [];
    for (const n of names.sort()) {
      if (n.startsWith('.') || !NAME_RE.test(n)) continue;
      const v = await this.find(n);
      if (v) out.push(v);
    }
    return out;
  }

  /** Removes the volume and its data; refuses while a container uses it unless `force`. */
  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    const v = await this.inspect(name);
    if (v.UsedBy.length > 0 && !opts.force) {
      throw new SkiffError('conflict', `volume ${name} is in use by container(s) ${v.UsedBy.join(', ')}`, {
        hint: 'remove the containers first',
      });
    }
    // Rename first so a crash mid-delete leaves no half volume under its name.
    const doomed = join(this.root, `.rm-${name}-${randomBytes(4).toString('hex')}`);
    await rename(join(this.root, name), doomed);
    await rm(doomed, { recursive: true, force: true });
  }

  /** Removes every volume no container uses; returns the removed names. */
  async prune(opts: { labels?: Labels } = {}): Promise<string[]> {
    const removed: string[] = [];
    for (const v of await this.list()) {
      if (v.UsedBy.length > 0) continue;
      const wanted = Object.entries(opts.labels ?? {});
      if (wanted.some(([k, val]) => v.Labels[k] !== val)) continue;
      await this.remove(v.Name);
      removed.push(v.Name);
    }
    return removed;
  }

  /** Records that `containerId` uses the volume (idempotent). */
  async acquire(name: string, containerId: string): Promise<void> {
    await this.inspect(name);
    await writeFile(join(this.root, name, 'refs', safeId(containerId)), '');
  }

  /** Drops `containerId`'s use of every volume (idempotent). */
  async releaseAll(containerId: string): Promise<void> {
    for (const v of await this.list()) {
      if (v.UsedBy.includes(containerId))
        await rm(join(this.root, v.Name, 'refs', safeId(containerId)), { force: true });
    }
  }

  private async find(name: string): Promise<VolumeInfo | undefined> {
    const dir = join(this.root, name);
    let raw: string;
    try {
      raw = await readFile(join(dir, 'volume.json'), 'utf8');
    } catch {
      return undefined;
    }
    let meta: { Name?: string; CreatedAt?: string; Labels?: Labels };
    try {
      meta = JSON.parse(raw) as typeof meta;
    } catch (e) {
      throw new SkiffError('corrupt', `volume ${name}: ${join(dir, 'volume.json')} is not valid JSON`, {
        cause: e,
      });
    }
    let refs: string[] = [];
    try {
      refs = (await readdir(join(dir, 'refs'))).sort();
    } catch {
      refs = [];
    }
    const created = meta.CreatedAt ?? (await stat(dir)).mtime.toISOString();
    return {
      Name: name,
      Driver: 'local',
      Mountpoint: join(dir, '_data'),
      CreatedAt: created,
      Labels: meta.Labels ?? {},
      Options: {},
      Scope: 'local',
      UsedBy: refs,
    };
  }
}

function safeId(id: string): string {
  if (!/^[a-zA-Z0-9_.-]+$/.test(id)) {
    throw new SkiffError('invalid_argument', `container id '${id}' holds characters a file name cannot`);
  }
  return id;
}
