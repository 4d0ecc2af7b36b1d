// env_file and label_file folded into environment and labels, as compose-go does for
// `docker compose config`: the files' variables first (later files win), the service's
// own `environment:` / `labels:` over them, and the file lists dropped. The files are
// read through the loader's reader; a problem is placed at the compose file's
// `env_file[i]` (file:line:col), or at the env file's own line for a syntax error.

import { parseDotenv, parseEnvFile } from './dotenv.js';
import type { Diagnostics } from './sources.js';
import type { ComposeProject } from './types.js';

export interface FoldContext {
  diag: Diagnostics;
  /** Reads a file the model names (relative paths resolved by the caller). */
  readText: (path: string) => string;
  /** How a file is shown in an error. */
  display: (path: string) => string;
}

export function foldServiceFiles(project: ComposeProject, ctx: FoldContext): void {
  for (const [name, s] of Object.entries(project.services)) {
    if (s.env_file) {
      const env: Record<string, string | null> = {};
      s.env_file.forEach((ef, i) => {
        const text = read(ctx, ef.path, ef.required, ['services', name, 'env_file', i], 'env_file');
        if (text === undefined) return;
        const r = parseEnvFile(text, ef.format, (n) => env[n] ?? project.environment[n]);
        reportSyntax(ctx, ef.path, r.errors);
        Object.assign(env, r.vars);
      });
      s.environment = { ...env, ...s.environment };
      delete s.env_file;
    }
    const labelFiles = Array.isArray(s.label_file) ? (s.label_file as string[]) : undefined;
    if (labelFiles) {
      const labels: Record<string, string> = {};
      labelFiles.forEach((f, i) => {
        const text = read(ctx, f, true, ['services', name, 'label_file', i], 'label_file');
        if (text === undefined) return;
        const r = parseDotenv(text);
        reportSyntax(ctx, f, r.errors);
        Object.assign(labels, r.vars);
      });
      s.labels = { ...labels, ...s.labels };
      delete s.label_file;
    }
  }
}

function read(
  ctx: FoldContext,
  path: string,
  required: boolean,
  at: (string | number)[],
  what: string,
): string | undefined {
  try {
    return ctx.readText(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT' && !required) return undefined;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(e);
    const hint = code === 'ENOENT' && what === 'env_file' ? ' (create it, or mark it `required: false`)' : '';
    ctx.diag.error(at, `cannot read ${what} ${ctx.display(path)}: ${why}${hint}`);
    return undefined;
  }
}

function reportSyntax(ctx: FoldContext, path: string, errors: { line: number; message: string }[]): void {
  for (const e of errors) {
    ctx.diag.errors.push({ file: ctx.display(path), line: e.line, col: 1, path: '', message: e.message });
  }
}
