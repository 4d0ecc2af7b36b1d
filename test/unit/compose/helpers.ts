// Temporary project directories for loader tests; always removed, also on failure.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type LoadOptions, type LoadResult, loadProject } from '../../../compose/index.js';

export async function withProject<T>(
  files: Record<string, string>,
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-compose-'));
  try {
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Loads `files` (default compose.yaml) from a temp project made of `tree`. */
export async function load(
  tree: Record<string, string>,
  opts: Partial<LoadOptions> = {},
): Promise<{ result: LoadResult; dir: string }> {
  return withProject(tree, async (dir) => {
    const result = await loadProject({
      env: {},
      ...opts,
      files: (opts.files ?? ['compose.yaml']).map((f) => join(dir, f)),
      workingDir: opts.workingDir ? join(dir, opts.workingDir) : undefined,
    });
    return { result, dir };
  });
}

export async function loadOk(tree: Record<string, string>, opts: Partial<LoadOptions> = {}) {
  const { result, dir } = await load(tree, opts);
  if (!result.ok)
    throw new Error(
      `expected the project to load:\n${result.errors.map((e) => `${e.file}:${e.line}:${e.col}: ${e.path}: ${e.message}`).join('\n')}`,
    );
  return { project: result.project, warnings: result.warnings, dir };
}

export async function loadErrors(tree: Record<string, string>, opts: Partial<LoadOptions> = {}) {
  const { result } = await load(tree, opts);
  if (result.ok) throw new Error('expected errors, but the project loaded');
  return result.errors.map((e) => ({ ...e, file: e.file.replace(/^.*\//, '') }));
}
