// Docker's rules for what a container runs, merged from the image config and the
// service's ContainerSpec. Pure: the caller reads the image's files.
import { type ContainerSpec, SkiffError } from '../../lib/index.js';
import type { ImageRunConfig } from './types.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * ContainerSpec.Command replaces the image's Entrypoint and discards its Cmd;
 * Args replaces Cmd. The result is entrypoint ++ cmd and must not be empty.
 */
export function mergeArgs(image: ImageRunConfig, spec: ContainerSpec): string[] {
  let entrypoint: string[];
  let cmd: string[];
  if (spec.Command !== undefined && spec.Command.length > 0) {
    entrypoint = spec.Command;
    cmd = spec.Args ?? [];
  } else {
    entrypoint = image.Entrypoint ?? [];
    cmd = spec.Args !== undefined && spec.Args.length > 0 ? spec.Args : (image.Cmd ?? []);
  }
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) {
    throw new SkiffError(
      'invalid_argument',
      'no command to run: the image has no Entrypoint or Cmd and the spec gives no Command',
      {
        hint: 'set `command:` (or `entrypoint:`) for the service',
      },
    );
  }
  return args;
}

/**
 * Image env, then spec env overriding by key (a bare `KEY` in the spec unsets nothing
 * and is dropped, as Docker drops unset variables); PATH defaults to Docker's;
 * HOSTNAME is set, and TERM when there is a TTY.
 */
export function mergeEnv(
  image: ImageRunConfig,
  spec: ContainerSpec,
  extra: { hostname: string; home?: string; tty?: boolean },
): string[] {
  const env = new Map<string, string>();
  const put = (entries: readonly string[] | null | undefined): void => {
    for (const e of entries ?? []) {
      const eq = e.indexOf('=');
      if (eq <= 0) continue;
      env.set(e.slice(0, eq), e.slice(eq + 1));
    }
  };
  if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH);
  env.set('HOSTNAME', extra.hostname);
  put(image.Env);
  put(spec.Env);
  if (extra.tty && !env.has('TERM')) env.set('TERM', 'xterm');
  if (extra.home !== undefined && !env.has('HOME')) env.set('HOME', extra.home);
  return [...env].map(([k, v]) => `${k}=${v}`);
}

/** The working directory: spec Dir, else the image's, else `/`; must be absolute. */
export function mergeWorkdir(image: ImageRunConfig, spec: ContainerSpec): string {
  const dir = spec.Dir || image.WorkingDir || '/';
  if (!dir.startsWith('/')) {
    throw new SkiffError('invalid_argument', `working directory '${dir}' is not an absolute path`, {
      hint: 'write working_dir as an absolute path, e.g. /app',
    });
  }
  return dir;
}

export function mergeUser(image: ImageRunConfig, spec: ContainerSpec): string {
  return spec.User || image.User || '';
}

export function mergeStopSignal(image: ImageRunConfig, spec: ContainerSpec): string {
  return spec.StopSignal || image.StopSignal || 'SIGTERM';
}
