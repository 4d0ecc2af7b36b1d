// The backup file: one header line `skiff-backup <format> <sha256 of body> <body length>`
// and a JSON body. The header lets a restore refuse a truncated or damaged file, or a
// format it does not know, before it changes anything.
import { createHash } from 'node:crypto';
import { SkiffError } from '../../lib/index.js';

export const BACKUP_FORMAT = 1;
const MAGIC = 'skiff-backup';

export interface BackupBody {
  createdAt: string;
  clusterId: string;
  /** The manager the backup was taken on: the restored node keeps its ID and certificates. */
  nodeId: string;
  /** The store snapshot (secrets still sealed) and the raft position it was taken at. */
  index: number;
  term: number;
  store: string;
  /** The manager's identity and keys, relative to its state directory, base64. */
  files: Record<string, string>;
  /** Whether the secrets key in `files` is locked (autolock): restoring needs the unlock key. */
  autolocked: boolean;
}

export function encodeBackup(body: BackupBody): Buffer {
  const json = Buffer.from(JSON.stringify({ ...body, format: BACKUP_FORMAT }));
  const sum = createHash('sha256').update(json).digest('hex');
  return Buffer.concat([Buffer.from(`${MAGIC} ${BACKUP_FORMAT} ${sum} ${json.length}\n`), json]);
}

/** The body of a backup file; a 'corrupt' or 'invalid_argument' SkiffError when it is not one skiff can restore. */
export function decodeBackup(file: Buffer, name: string): BackupBody {
  const nl = file.indexOf(0x0a);
  const head = (nl < 0 ? file.subarray(0, 200) : file.subarray(0, nl)).toString('latin1').split(' ');
  if (head[0] !== MAGIC || head.length !== 4 || nl < 0) {
    throw new SkiffError('invalid_argument', `${name} is not a skiff backup (no "${MAGIC}" header)`, {
      hint: 'give the file `skiff cluster backup` wrote',
    });
  }
  const format = Number(head[1]);
  if (format !== BACKUP_FORMAT) {
    throw new SkiffError(
      'invalid_argument',
      `${name} is a backup of format ${head[1]}; this skiff reads format ${BACKUP_FORMAT}`,
      { hint: 'restore it with the skiff version that wrote it' },
    );
  }
  const length = Number(head[3]);
  const json = file.subarray(nl + 1);
  if (json.length !== length) {
    throw new SkiffError(
      'corrupt',
      `${name} is ${json.length < length ? 'truncated' : 'longer than written'}: its body has ${json.length} bytes, the header says ${length}`,
      { hint: 'the file is incomplete; use another copy of the backup' },
    );
  }
  if (createHash('sha256').update(json).digest('hex') !== head[2]) {
    throw new SkiffError('corrupt', `${name} is damaged: its checksum does not match its contents`, {
      hint: 'use another copy of the backup',
    });
  }
  let body: unknown;
  try {
    body = JSON.parse(json.toString('utf8'));
  } catch {
    throw new SkiffError('corrupt', `${name} passes its checksum but its body is not JSON`);
  }
  return checkBody(body, name);
}

function checkBody(raw: unknown, name: string): BackupBody {
  const b = raw as Partial<BackupBody> | null;
  const ok =
    typeof b === 'object' &&
    b !== null &&
    typeof b.nodeId === 'string' &&
    typeof b.clusterId === 'string' &&
    typeof b.store === 'string' &&
    Number.isSafeInteger(b.index) &&
    Number.isSafeInteger(b.term) &&
    typeof b.autolocked === 'boolean' &&
    typeof b.files === 'object' &&
    b.files !== null &&
    Object.entries(b.files).every(([k, v]) => typeof v === 'string' && safeRelative(k));
  if (!ok)
    throw new SkiffError('corrupt', `${name} lacks fields a backup has (or names a file outside the state)`);
  return b as BackupBody;
}

/** A path inside the state directory: no absolute path, no `..`. */
export function safeRelative(p: string): boolean {
  return p.length > 0 && !p.startsWith('/') && !p.split('/').some((s) => s === '..' || s === '' || s === '.');
}
