// Docker API mounts → OCI mounts. Pure: the caller supplies the host directory of
// each named volume.
import { posix } from 'node:path';
import { type Mount, SkiffError } from '../../lib/index.js';
import type { ContainerFile, OciMount } from './types.js';

export function validateTarget(target: string, what: string): string {
  if (!target.startsWith('/')) {
    throw new SkiffError('invalid_argument', `${what}: target '${target}' is not an absolute path`, {
      hint: 'write the container path as an absolute path, e.g. /data',
    });
  }
  const clean = posix.normalize(target);
  if (clean === '/')
    throw new SkiffError('invalid_argument', `${what}: cannot mount over the container's root '/'`);
  return clean.replace(/\/+$/, '');
}

/** One Docker mount as an OCI mount; `volumeDir` is the named volume's data directory. */
export function mountToOci(m: Mount, volumeDir?: string): OciMount {
  const what = `${m.Type} mount on ${m.Target}`;
  const destination = validateTarget(m.Target, what);
  switch (m.Type) {
    case 'bind': {
      if (!m.Source?.startsWith('/')) {
        throw new SkiffError(
          'invalid_argument',
          `${what}: bind source '${m.Source ?? ''}' is not an absolute host path`,
        );
      }
      const options = [
        m.BindOptions?.NonRecursive ? 'bind' : 'rbind',
        m.BindOptions?.Propagation ?? 'rprivate',
      ];
      if (m.ReadOnly) options.push('ro');
      return {
        destination,
        type: 'bind',
        source: posix.normalize(m.Source).replace(/(.)\/+$/, '$1'),
        options,
      };
    }
    case 'volume': {
      if (volumeDir === undefined) throw new SkiffError('internal', `${what}: volume directory not resolved`);
      let source = volumeDir;
      const sub = m.VolumeOptions?.Subpath;
      if (sub) {
        const clean = posix.normalize(sub);
        if (clean.startsWith('/') || clean === '..' || clean.startsWith('../')) {
          throw new SkiffError('invalid_argument', `${what}: subpath '${sub}' leaves the volume`);
        }
        source = posix.join(volumeDir, clean);
      }
      const options = ['rbind', 'rprivate'];
      if (m.ReadOnly) options.push('ro');
      return { destination, type: 'bind', source, options };
    }
    case 'tmpfs': {
      const options = ['nosuid', 'nodev'];
      const size = m.TmpfsOptions?.SizeBytes;
      if (size !== undefined) {
        if (!Number.isInteger(size) || size < 0) {
          throw new SkiffError('invalid_argument', `${what}: size ${size} is not a byte count`);
        }
        if (size > 0) options.push(`size=${size}`);
      }
      const mode = m.TmpfsOptions?.Mode;
      if (mode !== undefined) {
        if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
          throw new SkiffError('invalid_argument', `${what}: mode ${mode} is not a file mode`);
        }
        options.push(`mode=${mode.toString(8).padStart(4, '0')}`);
      }
      if (m.ReadOnly) options.push('ro');
      return { destination, type: 'tmpfs', source: 'tmpfs', options };
    }
    default:
      throw new SkiffError('unsupported', `${what}: mount type '${m.Type}' is not supported on Linux`, {
        hint: 'use bind, volume or tmpfs',
      });
  }
}

/** Where a secret or config lands in the container. */
export function fileTarget(f: ContainerFile): string {
  const target = f.target.startsWith('/')
    ? f.target
    : f.kind === 'secret'
      ? `/run/secrets/${f.target}`
      : `/${f.target}`;
  return validateTarget(target, `${f.kind} ${f.target}`);
}

export function validateFile(f: ContainerFile): void {
  const what = `${f.kind} ${f.target}`;
  if (!Number.isInteger(f.mode) || f.mode < 0 || f.mode > 0o7777) {
    throw new SkiffError('invalid_argument', `${what}: mode ${f.mode} is not a file mode`);
  }
  for (const [k, v] of [
    ['uid', f.uid],
    ['gid', f.gid],
  ] as const) {
    if (!Number.isInteger(v) || v < 0)
      throw new SkiffError('invalid_argument', `${what}: ${k} ${v} is not an id`);
  }
}
