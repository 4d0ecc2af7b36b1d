// Runs a host tool (mount, umount, cp) and turns a failure into a SkiffError that
// names the command and carries its stderr.
import { execFile } from 'node:child_process';
import { SkiffError } from '../../lib/index.js';

export function runCommand(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const detail = stderr.trim() || err.message;
        reject(new SkiffError('internal', `${file} ${args.join(' ')} failed: ${detail}`, { cause: err }));
        return;
      }
      resolve(stdout);
    });
  });
}
