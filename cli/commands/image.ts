// `skiff image …` and `skiff login`: the image store of the node serving the API (the
// local node by default), through Docker's image endpoints — pull, ls, inspect, rm,
// prune, tag, import, push — and registry login, whose credentials stay on this side
// (docker's config.json), as docker keeps them.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import type { Command } from 'commander';
import type { ImagePlatform, ImageSummary, PullProgressEvent, PushProgressEvent } from '../../lib/index.js';
import { encodeRegistryAuth, SkiffError } from '../../lib/index.js';
import { daemonPaths } from '../../node/index.js';
import type { ApiClient } from '../api/index.js';
import { clientFor, type GlobalOptions, targetHost, withClient } from '../context.js';
import { LiveLines } from '../live-lines.js';
import {
  ago,
  CliExit,
  CliUsageError,
  goTime,
  humanSize,
  parseFormat,
  printInspect,
  printJson,
  printList,
  quietLines,
} from '../output.js';
import {
  canonicalRegistry,
  defaultAuthFile,
  readCredentials,
  registryOf,
  storeCredentials,
} from '../registry-auth.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

function mb(bytes: number): string {
  if (bytes < 1000) return `${bytes}B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)}kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)}MB`;
  return `${(bytes / 1e9).toFixed(2)}GB`;
}

function short(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
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

  event = (e: PullProgressEvent): void => {
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

function imageRow(img: ImageSummary, tag: string | undefined): string[] {
  const { repo, tag: tagName } = tag ? splitTag(tag) : { repo: '<none>', tag: undefined };
  return [
    repo,
    tagName ?? '<none>',
    short(img.Id),
    ago(new Date(img.Created * 1000).toISOString()),
    humanSize(img.Size, 3),
  ];
}

/**
 * docker's `image ls --filter`, applied to the node's list: `dangling`, `reference` (a
 * glob over the name or name:tag, as docker's path.Match), `label`; the time filters
 * (before, since, until) are refused rather than ignored.
 */
export function imageFilter(filters: string[]): (img: ImageSummary) => boolean {
  const tests: ((img: ImageSummary) => boolean)[] = [];
  const refs: RegExp[] = [];
  for (const f of filters) {
    const eq = f.indexOf('=');
    const [k, v] = eq < 0 ? [f, ''] : [f.slice(0, eq), f.slice(eq + 1)];
    if (k === 'dangling') {
      if (v !== 'true' && v !== 'false')
        throw new CliUsageError(`bad filter "${f}": dangling is true or false`);
      tests.push((img) => (img.RepoTags.length === 0) === (v === 'true'));
    } else if (k === 'reference') refs.push(globRegExp(v));
    else if (k === 'label') {
      const i = v.indexOf('=');
      tests.push((img) =>
        i < 0 ? Object.hasOwn(img.Labels ?? {}, v) : img.Labels?.[v.slice(0, i)] === v.slice(i + 1),
      );
    } else
      throw new CliUsageError(
        `unsupported filter "${k}": skiff's image ls filters by dangling, reference and label`,
      );
  }
  if (refs.length > 0)
    tests.push((img) => img.RepoTags.some((t) => refs.some((r) => r.test(t) || r.test(splitTag(t).repo))));
  return (img) => tests.every((t) => t(img));
}

/** A path.Match glob (`*` and `?` stop at `/`) as a whole-string RegExp. */
function globRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '[^/]*')
    .replaceAll('?', '[^/]');
  return new RegExp(`^${body}$`);
}

/** `name[:tag]` → name and tag; a colon before the last slash is a registry port. */
function splitTag(ref: string): { repo: string; tag: string | undefined } {
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/')
    ? { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) }
    : { repo: ref, tag: undefined };
}

function formatPlatform(p: ImagePlatform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}
export function registerImage(program: Command): void {
  const image = program.command('image').description('manage the images of the node serving the API');
  const g = (): GlobalOptions => program.opts<GlobalOptions>();

  image
    .command('pull')
    .description('pull an image from a registry and unpack its layers')
    .argument('<reference>', 'image reference, e.g. busybox:1.36 or host:5000/app@sha256:…')
    .option('--platform <os/arch[/variant]>', 'platform to pick from a multi-platform image')
    .option('--format <format>', 'progress as text or json events')
    .option('-q, --quiet', 'no progress; print only the reference once pulled')
    .action(async (ref: string, o: { platform?: string; format?: string; quiet?: boolean }) => {
      const mode = progressMode(o.format);
      const progress = new PullProgress(mode);
      let digest = '';
      let id = '';
      await withClient(g(), (c) =>
        c.pullImage(
          ref,
          (m) => {
            const e = m.aux?.skiff as PullProgressEvent | undefined;
            if (e) {
              if (e.type === 'done') id = e.id;
              if (!o.quiet) progress.event(e);
            } else if (m.status?.startsWith('Digest: ')) digest = m.status.slice('Digest: '.length);
          },
          // the node's message names the image already
          { ...(o.platform ? { platform: o.platform } : {}), sayWhich: false },
        ),
      );
      if (o.quiet) process.stdout.write(`${ref}\n`);
      else if (mode !== 'json') {
        process.stdout.write(`Digest: ${digest}\n`);
        process.stdout.write(`Status: image ${short(id)} is up to date for ${ref}\n`);
      }
    });

  image
    .command('ls')
    .alias('list')
    .description('list images')
    .option('-q, --quiet', 'only print image IDs')
    .option('--digests', 'show digests')
    .option(
      '-f, --filter <filter>',
      'filter (dangling=true|false, reference=PATTERN, label=KEY[=VALUE])',
      collect,
      [],
    )
    .option('--no-trunc', 'do not truncate image IDs')
    .option('--format <format>', 'table, json or a Go template')
    .action(
      async (o: {
        quiet?: boolean;
        digests?: boolean;
        format?: string;
        filter: string[];
        trunc: boolean;
      }) => {
        const keep = imageFilter(o.filter);
        await withClient(g(), async (c) => {
          // newest first, as the node sorts them
          const list = (await c.listImages()).filter(keep);
          const id = (i: ImageSummary) => (o.trunc ? short(i.Id) : i.Id);
          if (o.quiet)
            return void process.stdout.write(
              quietLines(
                list.map((i) => i.Id),
                'trunc',
                o.trunc,
              ),
            );
          const rows: string[][] = [];
          const fields: Record<string, unknown>[] = [];
          for (const img of list) {
            const tags = img.RepoTags.length > 0 ? img.RepoTags : [undefined];
            for (const tag of tags) {
              const row = imageRow(img, tag);
              row[2] = id(img);
              // docker's row says <none> for the digest unless --digests asks for it.
              const digest = o.digests ? (img.RepoDigests[0]?.split('@')[1] ?? '<none>') : '<none>';
              if (o.digests) row.splice(2, 0, digest);
              rows.push(row);
              fields.push({
                Digest: digest,
                CreatedAt: goTime(img.Created),
                // What the node does not count (-1, or not given): docker's N/A.
                Containers: img.Containers >= 0 ? String(img.Containers) : 'N/A',
                SharedSize: img.SharedSize >= 0 ? humanSize(img.SharedSize, 3) : 'N/A',
                UniqueSize: img.SharedSize >= 0 ? humanSize(img.Size - img.SharedSize, 3) : 'N/A',
                VirtualSize: humanSize(img.Size),
              });
            }
          }
          const columns = [
            { header: 'REPOSITORY', field: 'Repository' },
            { header: 'TAG', field: 'Tag' },
            { header: 'IMAGE ID', field: 'ID' },
            { header: 'CREATED', field: 'CreatedSince' },
            { header: 'SIZE', field: 'Size' },
          ];
          if (o.digests) columns.splice(2, 0, { header: 'DIGEST', field: 'Digest' });
          printList(o.format, columns, rows, fields);
        });
      },
    );

  image
    .command('inspect')
    .description('show the full metadata of images (JSON)')
    .argument('<reference...>')
    .option('-f, --format <format>', "json or a Go template ('{{.Id}}')")
    .action(async (refs: string[], o: { format?: string }) => {
      await withClient(g(), async (c) => {
        const out: unknown[] = [];
        for (const ref of refs) out.push(await c.inspectImage(ref));
        printInspect(o.format, out);
      });
    });

  image
    .command('rm')
    .alias('remove')
    .description('remove images (by tag, digest or ID); blobs are freed by prune')
    .argument('<reference...>')
    .option('-f, --force', 'remove an image with several tags, or one containers still use')
    .action(async (refs: string[], o: { force?: boolean }) => {
      await withClient(g(), async (c) => {
        for (const ref of refs) {
          const result = await c.removeImage(ref, o.force === true);
          for (const r of result) {
            if (r.Untagged) process.stdout.write(`Untagged: ${r.Untagged}\n`);
            if (r.Deleted) process.stdout.write(`Deleted: ${r.Deleted}\n`);
          }
        }
      });
    });

  image
    .command('prune')
    .description('remove untagged images, then blobs and unpacked layers nothing uses')
    .option('-a, --all', 'remove every image no container uses, not only untagged ones')
    .option('--format <format>', 'table or json')
    .action(async (o: { all?: boolean; format?: string }) => {
      await withClient(g(), async (c) => {
        const r = await c.pruneImages(o.all === true);
        const removed = r.ImagesDeleted.flatMap((d) => (d.Deleted ? [d.Deleted] : []));
        if (parseFormat(o.format) === 'json') {
          return printJson({
            imagesDeleted: removed,
            blobsRemoved: r.BlobsRemoved,
            bytesFreed: r.SpaceReclaimed,
            snapshotsRemoved: r.SnapshotsRemoved,
          });
        }
        for (const id of removed) process.stdout.write(`Deleted: ${id}\n`);
        process.stdout.write(
          `Removed ${r.BlobsRemoved} blobs and ${r.SnapshotsRemoved} unpacked layers; reclaimed ${mb(r.SpaceReclaimed)}\n`,
        );
      });
    });

  image
    .command('tag')
    .description('give an image another name')
    .argument('<source>', 'tag, digest or ID of a local image')
    .argument('<target>', 'new name[:tag]')
    .action(async (source: string, target: string) => {
      if (target.includes('@'))
        throw new SkiffError('invalid_argument', `cannot tag with a digest: ${target}`);
      const { repo, tag } = splitTag(target);
      await withClient(g(), (c) => c.tagImage(source, repo, tag));
    });

  image
    .command('import')
    .description('make a one-layer image from a root filesystem tarball (plain, gzip or zstd)')
    .argument('<tarball>')
    .argument('<reference>', 'name[:tag] for the image')
    .option('--platform <os/arch[/variant]>', 'platform recorded in the image config')
    .option('--cmd <json>', 'default command, as a JSON array')
    .action(async (tarball: string, ref: string, o: { platform?: string; cmd?: string }) => {
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
      if (ref.includes('@'))
        throw new SkiffError('invalid_argument', `import needs a tag, not a digest: ${ref}`);
      const info = await stat(tarball).catch(() => {
        throw new SkiffError('not_found', `cannot read ${tarball}: no such file`);
      });
      if (!info.isFile()) throw new SkiffError('invalid_argument', `${tarball} is not a file`);
      const { repo, tag } = splitTag(ref);
      const id = await withClient(g(), (c) =>
        c.importImage(createReadStream(tarball), repo, tag, {
          ...(cmd ? { changes: [`CMD ${JSON.stringify(cmd)}`] } : {}),
          ...(o.platform ? { platform: o.platform } : {}),
        }),
      );
      process.stdout.write(`${id}\n`);
    });

  image
    .command('push')
    .description(
      'push an image to the registry its name points to, or with --to-cluster from the local node to the node the CLI talks to (no registry)',
    )
    .argument(
      '<reference>',
      'registry/name:tag of an image (with --to-cluster: any name or ID on the local node)',
    )
    .option('--auth-file <path>', 'credentials file in ~/.docker/config.json format')
    .option('--format <format>', 'progress as text or json events')
    .option('-q, --quiet', 'no progress; print only the reference once pushed')
    .option(
      '--to-cluster',
      "send the image from the local node (or --from) to the cluster's node the CLI talks to; its other nodes fetch it from there",
    )
    .option('--from <host>', 'with --to-cluster: the node the image comes from (default: the local node)')
    .option(
      '--nodes <names>',
      'with --to-cluster: the nodes (IDs or hostnames, comma-separated) that fetch it at once (default: every ready node)',
    )
    .action(
      async (
        ref: string,
        o: {
          authFile?: string;
          format?: string;
          quiet?: boolean;
          toCluster?: boolean;
          from?: string;
          nodes?: string;
        },
      ) => {
        if (o.toCluster) return pushToCluster(g(), ref, o);
        if (o.from) throw new CliUsageError('--from goes with --to-cluster');
        if (o.nodes) throw new CliUsageError('--nodes goes with --to-cluster');
        const json = parseFormat(o.format) === 'json';
        const { repo, tag } = splitTag(ref);
        if (!tag || ref.includes('@')) throw new SkiffError('invalid_argument', `push needs a tag: ${ref}`);
        const registry = registryOf(repo);
        const creds = await readCredentials(o.authFile ?? defaultAuthFile(), registry);
        let digest = '';
        await withClient(g(), (c) =>
          c.pushImage(repo, tag, creds ? encodeRegistryAuth(creds, registry) : undefined, (m) => {
            const e = m.aux?.skiff as PushProgressEvent | undefined;
            if (!e) return;
            if (e.type === 'done') digest = e.digest;
            if (o.quiet) return;
            if (json) process.stdout.write(`${JSON.stringify(e)}\n`);
            else if (e.type === 'blob' && e.status !== 'pushing') {
              process.stdout.write(
                `${short(e.digest)}: ${e.status === 'exists' ? 'already in the registry' : `pushed (${mb(e.size)})`}\n`,
              );
            }
          }),
        );
        if (o.quiet) process.stdout.write(`${ref}\n`);
        else if (!json) process.stdout.write(`${ref}: digest: ${digest}\n`);
      },
    );

  for (const parent of [program, image]) {
    parent
      .command('login')
      .description(
        'log in to a registry (the node checks the credentials; they go to the auth file, docker format)',
      )
      .argument('<registry>', 'registry host[:port]')
      .option('-u, --username <user>', 'the user name')
      .option('-p, --password <password>', 'the password (prefer --password-stdin)')
      .option('--password-stdin', 'read the password from stdin')
      .option('--auth-file <path>', 'credentials file in ~/.docker/config.json format')
      .action(
        async (
          registry: string,
          o: { username?: string; password?: string; passwordStdin?: boolean; authFile?: string },
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
          const username = o.username;
          const secret = password;
          await withClient(program.opts<GlobalOptions>(), (c) => c.checkLogin(registry, username, secret));
          await storeCredentials(o.authFile ?? defaultAuthFile(), canonicalRegistry(registry), {
            username,
            password: secret,
          });
          process.stdout.write('Login Succeeded\n');
        },
      );
  }
}

/**
 * Every chosen node of the cluster fetches the image, in parallel, from the node it was
 * loaded on (and from each other as they finish): one progress line per node. Answers
 * whether all got it.
 */
async function seedNodes(c: ApiClient, pinned: string, nodes: string[], quiet: boolean): Promise<boolean> {
  const lines = quiet ? undefined : new LiveLines();
  const tty = process.stderr.isTTY === true;
  const failed: string[] = [];
  let any = false;
  await c.distributeImage({ ref: pinned, ...(nodes.length ? { nodes } : {}) }, (m) => {
    any = true;
    // Hostnames need not differ (lab hosts, cloned machines): the ID first.
    const who = `${m.node.slice(0, 12)} ${m.hostname}`.trim();
    if (m.status === 'failed') failed.push(`${who}: ${m.error}`);
    if (!lines) return;
    if (m.status === 'fetching') {
      const pct = m.total > 0 ? Math.floor((100 * m.current) / m.total) : 0;
      // Redrawn in place on a terminal; on a log, a line per tenth.
      lines.set(who, `fetching ${tty ? pct : pct - (pct % 10)}% of ${mb(m.total)}`);
    } else if (m.status === 'done') lines.set(who, m.fetched ? 'fetched' : 'has it');
    else lines.set(who, `failed: ${m.error}`);
  });
  if (!any && !quiet) process.stderr.write('No node to seed\n');
  for (const f of failed) process.stderr.write(`Could not seed ${f}\n`);
  return failed.length === 0;
}

/**
 * `image push --to-cluster`: the image goes from the local node (or `--from`) to the
 * node the CLI talks to as an OCI layout tar (docker save | docker load, as `docker
 * pussh` does, with no registry), its manifest byte for byte: the same digest there, so
 * a service pinned to `NAME@DIGEST` runs it on any node of the cluster, whose other
 * nodes fetch it from the nodes holding it.
 */
async function pushToCluster(
  g: GlobalOptions,
  ref: string,
  o: { format?: string; quiet?: boolean; authFile?: string; from?: string; nodes?: string },
): Promise<void> {
  if (o.authFile) throw new CliUsageError('--auth-file is for registries: --to-cluster uses none');
  if (parseFormat(o.format) === 'json') throw new CliUsageError('--to-cluster prints text progress only');
  const from = o.from ?? `unix://${daemonPaths().socket}`;
  const to = targetHost(g);
  if (from === to)
    throw new SkiffError('invalid_argument', `the image would go from ${from} to itself`, {
      hint: 'name the cluster with --host or --context (or the source with --from)',
    });
  const source = clientFor(g, from);
  const target = clientFor(g, to);
  try {
    const img = await source.inspectImage(ref).catch((e: unknown) => {
      if (e instanceof SkiffError && e.code === 'not_found')
        throw new SkiffError('not_found', `No such image on ${from}: ${ref}`, {
          hint: 'build, pull or import it there first (`skiff image ls` lists what it holds)',
        });
      throw e;
    });
    const { body, size } = await source.saveImage(ref);
    let sent = 0;
    let shown = -1;
    const show = (done = false) => {
      if (o.quiet) return;
      // A line per tenth on a log, redrawn in place on a terminal.
      const tenth = size ? Math.floor((10 * sent) / size) : 0;
      if (!done && tenth === shown && !process.stderr.isTTY) return;
      shown = tenth;
      const of = size ? `/${mb(size)}` : '';
      process.stderr.write(
        `${process.stderr.isTTY ? '\r\x1b[2K' : ''}Sending ${ref}: ${mb(sent)}${of}${process.stderr.isTTY && !done ? '' : '\n'}`,
      );
    };
    const counted = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        sent += chunk.length;
        show();
        cb(null, chunk);
      },
    });
    body.on('error', (e) => counted.destroy(e));
    const loaded = await target.loadImage(body.pipe(counted));
    show(true);
    // The name to deploy it by: pinned to its manifest digest, the same on every node.
    const name = ref.includes('@') ? ref.split('@')[0] : img.RepoTags.includes(ref) ? ref : img.RepoTags[0];
    const pinned = name ? `${name}@${img.Manifest.Digest}` : img.Manifest.Digest;
    if (!o.quiet) for (const line of loaded) process.stderr.write(`${line} (on ${to})\n`);
    const nodes = (o.nodes ?? '')
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== '');
    if (!(await seedNodes(target, pinned, nodes, o.quiet === true))) {
      process.stdout.write(`${pinned}\n`);
      throw new CliExit(1);
    }
    process.stdout.write(`${pinned}\n`);
  } finally {
    await source.close();
    await target.close();
  }
}
