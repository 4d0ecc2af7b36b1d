// What the agent remembers about each container, in `<root>/<id>/container.json`,
// so that a restarted agent knows its containers: the parts of the create request
// needed later (stop signal, grace, health plan, exec defaults) and the start time.
import { mkdirSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { replaceFile, writeFileDurable } from '../../disk/index.js';
import { SkiffError } from '../../lib/index.js';
import type { HealthPlan } from './health.js';
import type { OciProcess } from './oci-config.js';

export interface ContainerRecord {
  id: string;
  name: string;
  labels: Record<string, string>;
  createdAt: string;
  startedAt?: string;
  stopSignal: string;
  stopGraceMs: number;
  tty: boolean;
  /** conmon holds the container's stdin (OpenStdin); with stdinOnce it closes at the first attached client's end of input. */
  stdin?: boolean;
  stdinOnce?: boolean;
  rootfs: string;
  /** The container's cgroup path (relative to each v1 hierarchy's root). */
  cgroupsPath?: string;
  health?: HealthPlan;
  /** The container's process, the base of every exec. */
  process: OciProcess;
}

const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

export function validateContainerId(id: string): void {
  if (!ID_RE.test(id)) {
    throw new SkiffError('invalid_argument', `'${id}' is not a valid container id`, {
      hint: 'an id is 1–128 letters, digits, _ . - and starts with a letter or digit',
    });
  }
}

/**
 * Records are small files on the start path: read synchronously (microseconds, and no
 * thread-pool round trip, which a loaded node makes slow), but written with the
 * asynchronous durable write: its two fsyncs take 5-50 ms each on a busy disk, and on
 * the event loop they stalled every other container of a deploy (twice per container).
 */
export class ContainerStore {
  constructor(readonly root: string) {}

  dir(id: string): string {
    return join(this.root, id);
  }

  /**
   * `durable: false` for what a power loss makes moot (the container does not survive it):
   * replaced without fsyncs, still whole for a reader or after the agent's crash.
   */
  async write(rec: ContainerRecord, opts: { durable?: boolean } = {}): Promise<void> {
    const dir = this.dir(rec.id);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const write = opts.durable === false ? replaceFile : writeFileDurable;
    await write(join(dir, 'container.json'), JSON.stringify(rec));
  }

  async read(id: string): Promise<ContainerRecord | undefined> {
    validateContainerId(id);
    try {
      return JSON.parse(readFileSync(join(this.dir(id), 'container.json'), 'utf8')) as ContainerRecord;
    } catch {
      return undefined;
    }
  }

  async get(id: string): Promise<ContainerRecord> {
    const rec = await this.read(id);
    if (!rec) throw new SkiffError('not_found', `no such container: ${id}`);
    return rec;
  }

  async ids(): Promise<string[]> {
    try {
      return (await readdir(this.root)).filter((n) => ID_RE.test(n)).sort();
    } catch {
      return [];
    }
  }
}
