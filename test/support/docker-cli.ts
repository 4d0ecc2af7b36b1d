// The real docker CLI against a test file's own skiff node, as a user points it at a
// dockerd: the node (with a busybox image imported) is set up before the file's tests and
// destroyed after them, and docker runs with the file's own HOME and client config.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { type CommandResult, runCommand } from '../lab/command.js';
import { importBusybox, type TestNode, testNode } from './skiff-node/index.js';

export const DOCKER = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker';

export interface DockerRunOptions {
  /** Written to docker's stdin, which is then closed. */
  input?: string;
  timeoutMs?: number;
}

/** The command's result, with its stdout trimmed as `out`. */
export type DockerResult = CommandResult & { out: string };

export interface DockerNode {
  readonly node: TestNode;
  /** The file's scratch folder (docker's HOME), removed after its tests. */
  readonly dir: string;
  /** The environment docker runs in (for a command run another way, e.g. under a terminal). */
  env(): NodeJS.ProcessEnv;
  docker(args: string[], o?: DockerRunOptions): Promise<DockerResult>;
  /** Runs docker, expects it to succeed, and returns its trimmed stdout. */
  ok(args: string[], o?: DockerRunOptions): Promise<string>;
}

export interface DockerNodeOptions {
  /** The name the busybox image is imported as. */
  image: string;
  /** What the image's web page says. */
  page: string;
  /** The scratch folder's name prefix. */
  tmpPrefix: string;
  /** The docker commands that remove what the tests made, each run best effort before the node goes. */
  cleanup?: () => string[][];
}

/** Registers the file's beforeAll/afterAll for one node and answers its docker runner. */
export function dockerNode(o: DockerNodeOptions): DockerNode {
  let node: TestNode | undefined;
  let dir: string | undefined;
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the docker node is used before its beforeAll ran');
    return v;
  };
  const d: DockerNode = {
    get node() {
      return started(node);
    },
    get dir() {
      return started(dir);
    },
    env: () => ({
      PATH: process.env.PATH,
      HOME: d.dir,
      TERM: 'xterm',
      DOCKER_HOST: `unix://${join(d.node.runDir, 'skiff.sock')}`,
      DOCKER_CONFIG: join(d.dir, 'docker-config'),
    }),
    docker: async (args, r = {}) => {
      const res = await runCommand(DOCKER, args, {
        env: d.env(),
        timeoutMs: r.timeoutMs ?? 60_000,
        ...(r.input !== undefined ? { input: r.input } : {}),
      });
      return { ...res, out: res.stdout.trim() };
    },
    ok: async (args, r) => {
      const res = await d.docker(args, r);
      expect(res.code, `docker ${args.join(' ')} failed: ${res.stderr}`).toBe(0);
      return res.out;
    },
  };

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), o.tmpPrefix));
    const imp = await importBusybox(node, dir, o.page, o.image);
    expect(imp.code, imp.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    if (node) {
      for (const args of o.cleanup?.() ?? []) await d.docker(args).catch(() => {});
      await node.destroy();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  return d;
}
