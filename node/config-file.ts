// The daemon's config file (`/etc/skiff/daemon.json`, like dockerd's daemon.json): the
// same settings as `skiff daemon run`'s flags, under the flags' names. A flag given on
// the command line wins over the file; the file wins over defaults and environment.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { lazy, SkiffError } from '../lib/index.js';

/** Built when a file is read: most starts have none. */
const daemonConfig = lazy(() => {
  /** A byte count, or a size with a unit ("32GiB"); checked further by the flag's parser. */
  const byteSize = z.union([z.number().int().nonnegative(), z.string().min(1)]).optional();
  return z.strictObject({
    'state-dir': z.string().min(1).optional(),
    'run-dir': z.string().min(1).optional(),
    'log-level': z.enum(['debug', 'info', 'warn', 'error']).optional(),
    'log-max-size': z.string().min(1).optional(),
    'log-max-files': z.union([z.number().int(), z.string().regex(/^\d+$/)]).optional(),
    'advertise-addr': z.string().min(1).optional(),
    port: z.union([z.number().int(), z.string().regex(/^\d+$/)]).optional(),
    join: z.string().min(1).optional(),
    'token-file': z.string().min(1).optional(),
    'dispatcher-heartbeat': z.string().min(1).optional(),
    'raft-tick': z.string().min(1).optional(),
    'raft-snapshot-interval': z.union([z.number().int(), z.string().regex(/^\d+$/)]).optional(),
    'default-addr-pool': z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    'default-addr-pool-mask-length': z.union([z.number().int(), z.string().regex(/^\d+$/)]).optional(),
    'max-layer-size': byteSize,
    'max-image-size': byteSize,
    'max-layer-entries': z.union([z.number().int().positive(), z.string().regex(/^\d+$/)]).optional(),
    'max-image-config-size': byteSize,
    'min-free-space': byteSize,
    'metrics-addr': z.string().min(1).optional(),
  });
});

/** The file's settings as commander option values (camelCase keys, strings). */
export type DaemonConfigValues = Record<string, string>;

/**
 * Reads and checks a config file. A missing default file is no error (undefined); a
 * missing explicit one, bad JSON or an unknown or mistyped key is, naming the file.
 */
export function readDaemonConfig(file: string, explicit: boolean): DaemonConfigValues | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (!explicit && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SkiffError('invalid_argument', `cannot read the config file ${file}: ${(e as Error).message}`, {
      hint: 'give an existing file with --config, or none to use the defaults',
    });
  }
  return parseDaemonConfig(text, file);
}

export function parseDaemonConfig(text: string, file: string): DaemonConfigValues {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SkiffError('invalid_argument', `${file}: not valid JSON: ${(e as Error).message}`, {
      hint: 'the file holds one JSON object, e.g. {"advertise-addr": "192.0.2.10"}',
    });
  }
  const parsed = daemonConfig().safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at "${issue.path.join('.')}"` : '';
    const keys =
      issue?.code === 'unrecognized_keys'
        ? `unknown setting(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`
        : issue?.message;
    throw new SkiffError('invalid_argument', `${file}${where}: ${keys}`, {
      hint: `settings are the flags of \`skiff daemon run\` without the dashes: ${Object.keys(daemonConfig().shape).join(', ')}`,
    });
  }
  const values: DaemonConfigValues = {};
  for (const [key, value] of Object.entries(parsed.data)) {
    if (value === undefined) continue;
    values[camel(key)] = Array.isArray(value) ? value.join(',') : String(value);
  }
  return values;
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
