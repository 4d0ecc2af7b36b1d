// Project names as the spec defines them: lower-case letters, digits, dashes and
// underscores, starting with a letter or digit.

const VALID = /^[a-z0-9][a-z0-9_-]*$/;

export function validProjectName(name: string): boolean {
  return VALID.test(name);
}

/** A directory name made into a project name: lower-cased, other characters dropped. */
export function normalizeProjectName(dir: string): string {
  return dir
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '')
    .replace(/^[^a-z0-9]+/, '');
}
