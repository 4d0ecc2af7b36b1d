// `skiff image …` and `skiff login`: the node's local image store (at --root), used
// directly without a manager — pull, ls, inspect, rm, prune, tag, import, push, login.
import type { Command } from 'commander';
import {
  digestHex,
  familiarReference,
  formatPlatform,
  type ImageRecord,
  ImageService,
  type PullEvent,
  type PushEvent,
  parsePlatform,
  parseReference,
} from '../../agent/image/index.js';
import { Snapshotter } from '../../agent/snapshot/index.js';
import { SkiffError } from '../../lib/index.js';
import { daemonPaths } from '../daemon/paths.js';
import { ago, CliUsageError, parseFormat, printJson, printTable } from '../output.js';

/** The local node's state directory (`SKIFF_STATE_ROOT`/local), where the daemon keeps its images too. */
export const DEFAULT_ROOT = daemonPaths().stateDir;

interface StoreOptions {
  root: string;
  authFile?: string;
  insecureRegistry: string[];
  concurrency?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function withStoreOptions(cmd: Command): Command {
  return cmd
    .option('--root <dir>', 'node state root holding the image store', DEFAULT_ROOT)
    .option('--auth-file <path>', 'credentials file in ~/.docker/config.json format')
    .option(
      '--insecure-registry <host>',
      'registry reached over plain HTTP or unverified HTTPS (repeatable)',
      collect,
      [],
    );
}

async function withStore<T>(
  o: StoreOptions,
  run: (images: ImageService, snapshots: Snapshotter) => Promise<T>,
  unpack = false,
): Promise<T> {
  const concurrency = o.concurrency === undefined ? undefined : Number(o.concurrency);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) {
    throw new CliUsageError(`--concurrency must be a positive integer, got "${o.concurrency}"`);
  }
  const snapshots = new Snapshotter({ root: o.root });
  const images = new ImageService({
    root: o.root,
    registries: { insecure: o.insecureRegistry },
    ...(o.authFile ? { authFile: o.authFile } : {}),
    ...(concurrency ? { concurrency } : {}),
    ...(unpack ? { unpacker: snapshots } : {}),
  });
  try {
    await images.init();
    return await run(images, snapshots);
  } finally {
    await images.close();
  }
}

function mb(bytes: number): string {
  if (bytes < 1000) return `${bytes}B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)}kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)}MB`;
  return `${(bytes / 1e9).toFixed(2)}GB`;
}

function short(digest: string): string {
  return digestHex(digest).slice(0, 12);
}

/** Per-layer progress: bars redrawn in place on a terminal, plain lines otherwise, or JSON lines. */
class PullProgress {
  private readonly layers = new Map<string, { status: string; current: number; total: number }>();
  private drawn = 0;
  private lastDraw = 0;

  constructor(
    private readonly mode: 'tty' | 'plain' | 'json',
    private readonly out: NodeJS.WriteStream = process.stdout,
  ) {}

  event = (e: PullEvent): void => {
    if (this.mode === 'json') {
      this.out.write(`${JSON.stringify(e)}\n`);
      return;
    }
    if (e.type === 'resolved') {
      this.out.write(`${e.ref}: resolved to ${e.digest} (${formatPlatform(e.platform)})\n`);
      for (const l of e.layers) this.layers.set(l.digest, { status: 'waiting', current: 0, total: l.size });
      return;
    }
    if (e.type === 'layer') {
      const layer = this.layers.get(e.digest);
      if (!layer) return;
      const changed = layer.status !== e.status;
      Object.assign(layer, { status: e.status, current: e.current });
      if (this.mode === 'plain') {
        if (changed && e.status !== 'waiting') {
          const what =
            e.status === 'exists'
              ? 'already present'
              : e.status === 'done'
                ? `done (${mb(e.total)})`
                : e.status;
          this.out.write(`${short(e.digest)}: ${what}\n`);
        }
        return;
      }
      if (changed || Date.now() - this.lastDraw > 100 || e.current === e.total) this.draw();
      return;
    }
    if (this.mode === 'tty') this.draw();
    if (e.type === 'unpacking') this.out.write(`unpacking layers\n`);
  };

  private draw(): void {
    this.lastDraw = Date.now();
    let s = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const [digest, l] of this.layers) {
      const width = 30;
      const filled = l.total > 0 ? Math.min(width, Math.round((l.current / l.total) * width)) : width;
      const bar =
        l.status === 'downloading'
          ? `[${'='.repeat(Math.max(0, filled - 1))}>${' '.repeat(width - filled)}] `
          : '';
      const label =
        l.status === 'downloading'
          ? `${bar}${mb(l.current)}/${mb(l.total)}`
          : l.status === 'exists'
            ? 'already present'
            : l.status === 'done'
              ? `done (${mb(l.total)})`
              : l.status;
      s += `\x1b[2K${short(digest)}: ${label}\n`;
    }
    this.drawn = this.layers.size;
    this.out.write(s);
  }
}

function progressMode(format: string | undefined): 'tty' | 'plain' | 'json' {
  if (parseFormat(format) === 'json') return 'json';
  return process.stdout.isTTY ? 'tty' : 'plain';
}

function imageRow(img: ImageRecord, tag: string | undefined): string[] {
  let repo = '<none>';
  let tagName = '<none>';
  if (tag) {
    const ref = parseReference(tag);
    const familiar = familiarReference({ ...ref, tag: undefined });
    repo = familiar;
    tagName = ref.tag ?? '<none>';
  }
  return [repo, tagName, short(img.id), ago(img.created), mb(img.size)];
}

export function registerImage(program: Command): void {
  const image = program.command('image').description("manage this node's local images (the store at --root)");

  withStoreOptions(image.command('pull'))
    .description('pull an image from a registry and unpack its layers')
    .argument('<reference>', 'image reference, e.g. busybox:1.36 or host:5000/app@sha256:…')
    .option('--platform <os/arch[/variant]>', 'platform to pick from a multi-platform image')
    .option('--concurrency <n>', 'layers downloaded at once', '3')
    .option('--no-unpack', 'only download into the content store')
    .option('--format <format>', 'progress as text or json events')
    .option('-q, --quiet', 'no progress; print only the reference once pulled')
    .action(
      async (
        ref: string,
        o: StoreOptions & { platform?: string; unpack: boolean; format?: string; quiet?: boolean },
      ) => {
        const progress = new PullProgress(progressMode(o.format));
        await withStore(
          o,
          async (images) => {
            const record = await images.pull(ref, {
              ...(o.quiet ? {} : { onProgress: progress.event }),
              ...(o.platform ? { platform: parsePlatform(o.platform) } : {}),
            });
            if (o.quiet) process.stdout.write(`${ref}\n`);
            else if (progressMode(o.format) !== 'json') {
              process.stdout.write(
                `Digest: ${record.repoDigests[0]?.split('@')[1] ?? record.manifestDigest}\n`,
              );
              process.stdout.write(`Status: image ${short(record.id)} is up to date for ${ref}\n`);
            }
          },
          o.unpack,
        );
      },
    );

  withStoreOptions(image.command('ls'))
    .alias('list')
    .description('list local images')
    .option('-q, --quiet', 'only print image IDs')
    .option('--digests', 'show digests')
    .option('--format <format>', 'table or json')
    .action(async (o: StoreOptions & { quiet?: boolean; digests?: boolean; format?: string }) => {
      await withStore(o, async (images) => {
        const list = images.list().sort((a, b) => b.created.localeCompare(a.created));
        if (o.quiet) return void process.stdout.write(list.map((i) => `${short(i.id)}\n`).join(''));
        if (parseFormat(o.format) === 'json') return printJson(list.map(summary));
        const rows: string[][] = [];
        for (const img of list) {
          const tags = img.repoTags.length > 0 ? img.repoTags : [undefined];
          for (const tag of tags) {
            const row = imageRow(img, tag);
            if (o.digests) row.splice(2, 0, img.repoDigests[0]?.split('@')[1] ?? '<none>');
            rows.push(row);
          }
        }
        const headers = ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'];
        if (o.digests) headers.splice(2, 0, 'DIGEST');
        printTable(headers, rows);
      });
    });

  withStoreOptions(image.command('inspect'))
    .description('show the full metadata of images (JSON)')
    .argument('<reference...>')
    .action(async (refs: string[], o: StoreOptions) => {
      await withStore(o, async (images) => {
        const out: unknown[] = [];
        for (const ref of refs) {
          const img = images.get(ref);
          if (!img)
            throw new SkiffError('not_found', `no such image: ${ref}`, {
              hint: 'list local images with `skiff image ls`',
            });
          out.push(inspectView(img));
        }
        printJson(out);
      });
    });

  withStoreOptions(image.command('rm'))
    .alias('remove')
    .description('remove images (by tag, digest or ID); blobs are freed by prune')
    .argument('<reference...>')
    .option('-f, --force', 'remove an image with several tags, or one containers still use')
    .action(async (refs: string[], o: StoreOptions & { force?: boolean }) => {
      await withStore(o, async (images, snapshots) => {
        const inUse = new Set((await snapshots.list()).map((c) => c.imageId));
        for (const ref of refs) {
          const img = images.get(ref);
          if (img && inUse.has(img.id) && !o.force && img.repoTags.length <= 1) {
            throw new SkiffError('conflict', `image ${ref} is used by a container`, {
              hint: 'remove the container first, or use --force',
            });
          }
          const result = await images.remove(ref, { force: o.force });
          for (const t of result.untagged)
            process.stdout.write(`Untagged: ${familiarReference(parseReference(t))}\n`);
          for (const d of result.deleted) process.stdout.write(`Deleted: ${d}\n`);
        }
      });
    });

  withStoreOptions(image.command('prune'))
    .description('remove untagged images, then blobs and unpacked layers nothing uses')
    .option('-a, --all', 'remove every image no container uses, not only untagged ones')
    .option('--format <format>', 'table or json')
    .action(async (o: StoreOptions & { all?: boolean; format?: string }) => {
      await withStore(o, async (images, snapshots) => {
        const inUse = new Set((await snapshots.list()).map((c) => c.imageId));
        const removed: string[] = [];
        for (const img of images.list()) {
          if (inUse.has(img.id) || (!o.all && img.repoTags.length > 0)) continue;
          await images.remove(img.id, { force: true });
          removed.push(img.id);
        }
        const blobs = await images.gc();
        const snaps = await snapshots.gc(images.list().flatMap((i) => i.layers.map((l) => l.chainId)));
        const report = { imagesDeleted: removed, ...blobs, ...snaps };
        if (parseFormat(o.format) === 'json') return printJson(report);
        for (const id of removed) process.stdout.write(`Deleted: ${id}\n`);
        process.stdout.write(
          `Removed ${blobs.blobsRemoved} blobs and ${snaps.snapshotsRemoved} unpacked layers; reclaimed ${mb(blobs.bytesFreed)}\n`,
        );
      });
    });

  withStoreOptions(image.command('tag'))
    .description('give an image another name')
    .argument('<source>', 'tag, digest or ID of a local image')
    .argument('<target>', 'new name[:tag]')
    .action(async (source: string, target: string, o: StoreOptions) => {
      await withStore(o, async (images) => {
        await images.tag(source, target);
      });
    });

  withStoreOptions(image.command('import'))
    .description('make a one-layer image from a root filesystem tarball (plain, gzip or zstd)')
    .argument('<tarball>')
    .argument('<reference>', 'name[:tag] for the image')
    .option('--platform <os/arch[/variant]>', 'platform recorded in the image config')
    .option('--cmd <json>', 'default command, as a JSON array')
    .action(async (tarball: string, ref: string, o: StoreOptions & { platform?: string; cmd?: string }) => {
      let cmd: string[] | undefined;
      if (o.cmd) {
        try {
          cmd = JSON.parse(o.cmd) as string[];
        } catch {
          throw new CliUsageError(`--cmd must be a JSON array of strings, e.g. '["sh"]'`);
        }
        if (!Array.isArray(cmd) || !cmd.every((c) => typeof c === 'string'))
          throw new CliUsageError('--cmd must be a JSON array of strings');
      }
      await withStore(
        o,
        async (images) => {
          const img = await images.importRootfs(tarball, ref, {
            ...(cmd ? { config: { Cmd: cmd } } : {}),
            ...(o.platform ? { platform: parsePlatform(o.platform) } : {}),
          });
          process.stdout.write(`${img.id}\n`);
        },
        true,
      );
    });

  withStoreOptions(image.command('push'))
    .description('push a local image to the registry its name points to')
    .argument('<reference>', 'registry/name:tag of a local image')
    .option('--format <format>', 'progress as text or json events')
    .option('-q, --quiet', 'no progress; print only the reference once pushed')
    .action(async (ref: string, o: StoreOptions & { format?: string; quiet?: boolean }) => {
      const json = parseFormat(o.format) === 'json';
      await withStore(o, async (images) => {
        const { digest } = await images.push(ref, {
          onProgress: (e: PushEvent) => {
            if (o.quiet) return;
            if (json) process.stdout.write(`${JSON.stringify(e)}\n`);
            else if (e.type === 'blob' && e.status !== 'pushing') {
              process.stdout.write(
                `${short(e.digest)}: ${e.status === 'exists' ? 'already in the registry' : `pushed (${mb(e.size)})`}\n`,
              );
            }
          },
        });
        if (o.quiet) process.stdout.write(`${ref}\n`);
        else if (!json) process.stdout.write(`${ref}: digest: ${digest}\n`);
      });
    });

  for (const parent of [program, image]) {
    withStoreOptions(parent.command('login'))
      .description('log in to a registry (credentials go to the auth file, docker format)')
      .argument('<registry>', 'registry host[:port]')
      .option('-u, --username <user>', 'the user name')
      .option('-p, --password <password>', 'the password (prefer --password-stdin)')
      .option('--password-stdin', 'read the password from stdin')
      .action(
        async (
          registry: string,
          o: StoreOptions & { username?: string; password?: string; passwordStdin?: boolean },
        ) => {
          if (!o.username) throw new CliUsageError('login needs --username');
          let password = o.password;
          if (o.passwordStdin) {
            const chunks: Buffer[] = [];
            for await (const c of process.stdin) chunks.push(c as Buffer);
            password = Buffer.concat(chunks)
              .toString('utf8')
              .replace(/\r?\n$/, '');
          }
          if (!password) throw new CliUsageError('login needs --password or --password-stdin');
          await withStore(o, async (images) => {
            await images.login(registry, o.username!, password!);
          });
          process.stdout.write('Login Succeeded\n');
        },
      );
  }
}

function summary(img: ImageRecord) {
  return {
    Id: img.id,
    RepoTags: img.repoTags.map((t) => familiarReference(parseReference(t))),
    RepoDigests: img.repoDigests,
    Created: img.created,
    Size: img.size,
    Platform: formatPlatform(img.platform),
  };
}

/** Docker's inspect shape for the fields that exist here, plus the layer list. */
function inspectView(img: ImageRecord) {
  return {
    ...summary(img),
    Architecture: img.platform.architecture,
    Os: img.platform.os,
    ...(img.platform.variant ? { Variant: img.platform.variant } : {}),
    Config: img.config.config ?? {},
    RootFS: { Type: 'layers', Layers: img.layers.map((l) => l.diffId) },
    Layers: img.layers,
    Manifest: { Digest: img.manifestDigest, MediaType: img.manifestMediaType, Index: img.indexDigest },
    ImageConfig: img.config,
  };
}
