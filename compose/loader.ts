// loadProject: files + environment → one normalized project, or every error found.
// Order per file (as the spec says): parse → interpolate → validate → long form →
// include → extends; then files merge in order, profiles apply, the model is typed and
// checked. The only I/O is reading the compose files and the .env / --env-file files.

import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import yaml from 'js-yaml';
import { parseDotenv } from './dotenv.js';
import { foldServiceFiles } from './fold-files.js';
import { interpolate } from './interpolate.js';
import { interpolateTree } from './interpolate-tree.js';
import { mergeValues, stripResets } from './merge.js';
import { buildProject } from './normalize.js';
import type { PathSegment, PosNode } from './positions.js';
import { normalizeProjectName, validProjectName } from './project-name.js';
import { validateComposeFile } from './schema.js';
import { serviceSections } from './service-source.js';
import { expandFile, resolvePath } from './shorthand.js';
import { Diagnostics } from './sources.js';
import type { ComposeError, ComposeFileReader, ComposeSourcePart, LoadOptions, LoadResult } from './types.js';
import { type PosLookup, parseComposeYaml } from './yaml.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export const DEFAULT_FILE_NAMES = [
  'compose.yaml',
  'compose.yml',
  'docker-compose.yaml',
  'docker-compose.yml',
];

interface LoadedFile {
  file: string;
  display: string;
  data: Obj;
  pos: PosLookup;
  hasTags: boolean;
  /** The file as written (for the services' sections, `serviceSources`). */
  text: string;
}

interface Scope {
  env: Record<string, string>;
  /** Relative paths in the files are resolved against this directory. */
  baseDir: string;
}

class Loader {
  readonly diag = new Diagnostics();
  private readonly parsed = new Map<string, LoadedFile | null>();
  constructor(
    readonly home: string | undefined,
    readonly cwd: string,
    readonly io: ComposeFileReader,
    readonly flags: { interpolate: boolean; resolvePaths: boolean } = {
      interpolate: true,
      resolvePaths: true,
    },
  ) {}

  display(file: string): string {
    const rel = relative(this.cwd, file);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
  }

  private readonly texts = new Map<string, string>();

  /** A file's text, read once; undefined (without an error) when it cannot be read. */
  peekText(file: string): string | undefined {
    if (this.texts.has(file)) return this.texts.get(file);
    try {
      const text = this.io.readText(file);
      this.texts.set(file, text);
      return text;
    } catch {
      return undefined;
    }
  }

  readText(file: string, what: string): string | undefined {
    const cached = this.texts.get(file);
    if (cached !== undefined) return cached;
    try {
      return this.io.readText(file);
    } catch (e) {
      const code = (e as { code?: string }).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : describe(e);
      this.diag.errors.push({
        file: this.display(file),
        line: 0,
        col: 0,
        path: '',
        message: `cannot read ${what}: ${why}`,
      });
      return undefined;
    }
  }

  /** Parses, interpolates, validates and expands one file (cached per scope). */
  parseFile(file: string, scope: Scope): LoadedFile | null {
    const key = `${file}\0${scope.baseDir}\0${scope.env === this.rootEnv ? '' : JSON.stringify(scope.env)}`;
    const cached = this.parsed.get(key);
    if (cached !== undefined) return cached;
    this.parsed.set(key, null);
    const display = this.display(file);
    const text = this.readText(file, 'the compose file');
    if (text === undefined) return null;
    const r = parseComposeYamlSafe(text, display);
    if (!r.ok) {
      this.diag.errors.push(...r.errors);
      return null;
    }
    const { pos, hasTags } = r;
    this.diag.addSource(display, pos);
    const stripped = (hasTags ? stripResets(r.value, pos()) : r.value) as Obj;
    const env = scope.env;
    // --no-interpolate: values stay as written (`${VAR}` included).
    const interp = this.flags.interpolate
      ? interpolateTree(stripped, (n) => env[n])
      : { value: stripped, errors: [], unset: [] };
    for (const e of interp.errors) this.diag.errorIn(display, pos, e.path, e.message);
    const warned = new Set<string>();
    for (const u of interp.unset) {
      if (warned.has(u.name)) continue;
      warned.add(u.name);
      this.diag.errorIn(
        display,
        pos,
        u.path,
        `the "${u.name}" variable is not set; using an empty string`,
        true,
      );
    }
    if (interp.errors.length > 0) return null;
    const data = interp.value as Obj;
    const issues = validateComposeFile(data);
    for (const i of issues) this.diag.errorIn(display, pos, i.path, i.message);
    if (issues.length > 0) {
      this.reportShortSyntax(data, issues, display, pos, scope, file);
      return null;
    }
    if (data.version !== undefined) {
      this.diag.errorIn(display, pos, ['version'], '`version` is obsolete and ignored', true);
    }
    const shortErrors: { path: PathSegment[]; message: string }[] = [];
    const expanded = expandFile(data, {
      baseDir: scope.baseDir,
      fileDir: dirname(file),
      home: this.home,
      errors: shortErrors,
      resolvePaths: this.flags.resolvePaths,
    });
    for (const e of shortErrors) this.diag.errorIn(display, pos, e.path, e.message);
    const loaded: LoadedFile = { file, display, data: expanded, pos, hasTags, text };
    this.parsed.set(key, loaded);
    this.applyIncludes(loaded, scope);
    this.applyExtends(loaded, scope);
    return loaded;
  }

  rootEnv: Record<string, string> = {};

  /** After schema errors, still reports short-syntax errors at places the schema did not already flag. */
  private reportShortSyntax(
    data: Obj,
    issues: { path: PathSegment[] }[],
    display: string,
    pos: PosLookup,
    scope: Scope,
    file: string,
  ): void {
    if (!isObj(data.services)) return;
    const errors: { path: PathSegment[]; message: string }[] = [];
    try {
      expandFile(
        { services: data.services },
        {
          baseDir: scope.baseDir,
          fileDir: dirname(file),
          home: this.home,
          errors,
          resolvePaths: this.flags.resolvePaths,
        },
      );
    } catch {
      return; // the schema errors already say what is wrong
    }
    const overlaps = (a: PathSegment[], b: PathSegment[]) =>
      a.every((s, k) => k >= b.length || b[k] === s) || b.every((s, k) => k >= a.length || a[k] === s);
    for (const e of errors) {
      if (!issues.some((i) => overlaps(i.path, e.path))) this.diag.errorIn(display, pos, e.path, e.message);
    }
  }

  /** Loads and merges several files of one project (the -f list, or an include's path list). */
  loadFiles(files: string[], scope: Scope): Obj | undefined {
    let merged: Obj = {};
    let ok = true;
    for (const f of files) {
      const loaded = this.parseFile(f, scope);
      if (!loaded) {
        ok = false;
        continue;
      }
      merged = mergeValues(merged, loaded.data, loaded.hasTags ? loaded.pos() : undefined, []) as Obj;
      this.serviceFiles.push(loaded);
    }
    return ok ? merged : undefined;
  }

  /** The files that define the project's services (the -f files and included ones), in merge order. */
  readonly serviceFiles: LoadedFile[] = [];

  /** Each service's sections of the files that define it, as written, in merge order. */
  serviceSources(workingDir: string): Record<string, ComposeSourcePart[]> {
    const out: Record<string, ComposeSourcePart[]> = {};
    for (const f of new Set(this.serviceFiles)) {
      const rel = relative(workingDir, f.file);
      const name = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : f.file;
      for (const [service, part] of serviceSections(f.text, f.pos(), name)) {
        out[service] = [...(out[service] ?? []), part];
      }
    }
    return out;
  }

  private includeStack: string[] = [];

  applyIncludes(f: LoadedFile, scope: Scope): void {
    const includes = f.data.include;
    delete f.data.include;
    if (!Array.isArray(includes)) return;
    includes.forEach((inc, i) => {
      const entry = inc as { path: string[]; env_file?: string[]; project_directory?: string };
      const paths = entry.path;
      const first = paths[0];
      if (!first) {
        this.diag.errorIn(f.display, f.pos, ['include', i], 'include needs a path');
        return;
      }
      if (this.includeStack.includes(first)) {
        this.diag.errorIn(
          f.display,
          f.pos,
          ['include', i],
          `include cycle: ${[...this.includeStack, first].map((p) => this.display(p)).join(' → ')}`,
        );
        return;
      }
      const projectDir = entry.project_directory ?? dirname(first);
      // The including project's environment wins over the included project's env files.
      let fileVars: Record<string, string> = {};
      const envFiles = entry.env_file ?? [resolve(projectDir, '.env')];
      for (const ef of envFiles) {
        if (entry.env_file === undefined && !this.io.isFile(ef)) continue;
        const vars = this.readEnvFile(ef, { ...fileVars, ...scope.env });
        if (vars) fileVars = { ...fileVars, ...vars };
      }
      const env = { ...fileVars, ...scope.env };
      this.includeStack.push(first);
      const included = this.loadFiles(paths, { env, baseDir: projectDir });
      this.includeStack.pop();
      if (!included) return;
      for (const kind of ['services', 'networks', 'volumes', 'secrets', 'configs', 'models'] as const) {
        const from = included[kind];
        if (!isObj(from)) continue;
        const into: Obj = isObj(f.data[kind]) ? (f.data[kind] as Obj) : {};
        for (const [name, def] of Object.entries(from)) {
          if (Object.hasOwn(into, name)) {
            this.diag.errorIn(
              f.display,
              f.pos,
              [kind, name],
              `${kind.slice(0, -1)} "${name}" is also defined by the included file ${this.display(first)}; rename one of them`,
            );
            continue;
          }
          into[name] = def;
        }
        f.data[kind] = into;
      }
    });
  }

  applyExtends(f: LoadedFile, scope: Scope): void {
    const services = f.data.services;
    if (!isObj(services)) return;
    for (const name of Object.keys(services)) this.resolveExtends(f, name, scope, []);
  }

  /** The service with its `extends` chain merged in (memoized by removing `extends`). */
  resolveExtends(f: LoadedFile, name: string, scope: Scope, stack: string[]): Obj | undefined {
    const services = f.data.services as Obj;
    const svc = services[name];
    if (!isObj(svc)) return undefined;
    const ext = svc.extends as { service: string; file?: string } | undefined;
    if (!ext) return svc;
    const id = `${f.file}#${name}`;
    if (stack.includes(id)) {
      const chain = [...stack, id].map((s) => s.split('#')[1]).join(' → ');
      this.diag.errorIn(f.display, f.pos, ['services', name, 'extends'], `extends cycle: ${chain}`);
      delete svc.extends;
      return svc;
    }
    let target: LoadedFile | null = f;
    if (ext.file !== undefined && ext.file !== f.file) {
      if (!this.io.isFile(ext.file)) {
        this.diag.errorIn(
          f.display,
          f.pos,
          ['services', name, 'extends', 'file'],
          `cannot read ${this.display(ext.file)}: no such file`,
        );
        delete svc.extends;
        return svc;
      }
      target = this.parseFile(ext.file, { env: scope.env, baseDir: dirname(ext.file) });
      if (!target) {
        delete svc.extends;
        return svc;
      }
    }
    const baseServices = target.data.services;
    if (!isObj(baseServices) || !isObj(baseServices[ext.service])) {
      this.diag.errorIn(
        f.display,
        f.pos,
        ['services', name, 'extends'],
        `extends names service "${ext.service}", which ${target === f ? 'this file does not define' : `${target.display} does not define`}`,
      );
      delete svc.extends;
      return svc;
    }
    const base = this.resolveExtends(target, ext.service, scope, [...stack, id]);
    const { extends: _drop, ...own } = svc;
    const merged = mergeValues(
      stripNonInheritable(base ?? {}),
      own,
      f.hasTags ? nodeFor(f.pos(), ['services', name]) : undefined,
      ['services', name],
    ) as Obj;
    services[name] = merged;
    this.diag.addExtendsSource(
      f.display,
      target.display,
      target.pos,
      ['services', name],
      ['services', ext.service],
    );
    return merged;
  }

  readEnvFile(file: string, lookupEnv: Record<string, string>): Record<string, string> | undefined {
    const text = this.readText(file, 'the env file');
    if (text === undefined) return undefined;
    const r = parseDotenv(text, (n) => lookupEnv[n]);
    for (const e of r.errors) {
      this.diag.errors.push({ file: this.display(file), line: e.line, col: 1, path: '', message: e.message });
    }
    return r.vars;
  }
}

function nodeFor(pos: PosNode, path: PathSegment[]): PosNode | undefined {
  let n: PosNode | undefined = pos;
  for (const s of path) n = typeof s === 'number' ? n?.items?.[s] : n?.keys?.get(s);
  return n;
}

/** A base service lends its configuration, not its own name-bound identity. */
function stripNonInheritable(s: Obj): Obj {
  const { container_name: _c, ...rest } = s;
  return rest;
}

const localFiles: ComposeFileReader = {
  readText: (p) => readFileSync(p, 'utf8'),
  isFile: (p) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  },
};

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function parseComposeYamlSafe(text: string, file: string): ReturnType<typeof parseComposeYaml> {
  try {
    return parseComposeYaml(text, file);
  } catch (e) {
    return {
      ok: false,
      errors: [{ file, line: 1, col: 1, path: '', message: `cannot parse: ${describe(e)}` }],
    };
  }
}

export async function loadProject(opts: LoadOptions): Promise<LoadResult> {
  return loadProjectSync(opts);
}

export function loadProjectSync(opts: LoadOptions): LoadResult {
  try {
    const r = load(opts);
    if (r.ok) return { ...r, warnings: sortByPlace(r.warnings) };
    return { ok: false, errors: sortByPlace(r.errors) };
  } catch (e) {
    // A bug of ours must still reach the user as an error value, not a stack trace.
    return {
      ok: false,
      errors: [{ file: '', line: 0, col: 0, path: '', message: `internal error: ${describe(e)}` }],
    };
  }
}

function load(opts: LoadOptions): LoadResult {
  const processEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.env ?? process.env)) if (v !== undefined) processEnv[k] = v;
  const cwd = process.cwd();
  const io = opts.reader ?? localFiles;
  const loader = new Loader(processEnv.HOME, cwd, io, {
    interpolate: opts.interpolate !== false,
    resolvePaths: opts.resolvePaths !== false,
  });
  const diag = loader.diag;

  // Files: explicit, else COMPOSE_FILE, else the default names in the working directory.
  let files = opts.files.map((f) => resolve(cwd, f));
  const searchDir = resolve(cwd, opts.workingDir ?? '.');
  if (files.length === 0 && processEnv.COMPOSE_FILE) {
    const sep = processEnv.COMPOSE_PATH_SEPARATOR ?? ':';
    files = processEnv.COMPOSE_FILE.split(sep)
      .filter((f) => f !== '')
      .map((f) => resolve(searchDir, f));
  }
  if (files.length === 0) {
    const found = DEFAULT_FILE_NAMES.map((n) => resolve(searchDir, n)).find((p) => io.isFile(p));
    if (!found) {
      return {
        ok: false,
        errors: [
          {
            file: loader.display(searchDir),
            line: 0,
            col: 0,
            path: '',
            message: `no compose file found (looked for ${DEFAULT_FILE_NAMES.join(', ')}); pass one with -f`,
          },
        ],
      };
    }
    files = [found];
  }
  const workingDir = opts.workingDir ? resolve(cwd, opts.workingDir) : dirname(files[0]!);

  // Environment: the process environment wins over env files; later env files win.
  let fileVars: Record<string, string> = {};
  const envFiles = opts.envFiles?.length
    ? opts.envFiles.map((f) => resolve(cwd, f))
    : [resolve(workingDir, '.env')];
  for (const ef of envFiles) {
    if (!opts.envFiles?.length && !io.isFile(ef)) continue;
    const vars = loader.readEnvFile(ef, { ...fileVars, ...processEnv });
    if (vars) fileVars = { ...fileVars, ...vars };
  }
  const env: Record<string, string> = { ...fileVars, ...processEnv };
  // The name as the user set it (-p or the environment); a top-level name: comes later.
  // An empty COMPOSE_PROJECT_NAME counts as unset, as docker compose treats it.
  const namedBy = opts.projectName ?? (env.COMPOSE_PROJECT_NAME || undefined);
  // Interpolation sees COMPOSE_PROJECT_NAME even when the name comes from name: or the directory.
  env.COMPOSE_PROJECT_NAME =
    namedBy ?? prescanName(loader, files, env) ?? normalizeProjectName(basename(workingDir));
  loader.rootEnv = env;
  if (diag.errors.length > 0) return { ok: false, errors: diag.errors };

  const merged = loader.loadFiles(files, { env, baseDir: workingDir });
  if (!merged || diag.errors.length > 0) return { ok: false, errors: diag.errors };

  // Project name: -p, COMPOSE_PROJECT_NAME, top-level name, the directory name.
  let name: string;
  const explicit = opts.projectName ?? namedBy ?? (typeof merged.name === 'string' ? merged.name : undefined);
  if (explicit !== undefined) {
    if (!validProjectName(explicit)) {
      const msg = `project name "${explicit}" is invalid: use lower-case letters, digits, "-" and "_", starting with a letter or digit`;
      if (namedBy === undefined) diag.error(['name'], msg);
      else diag.errors.push({ file: '', line: 0, col: 0, path: '', message: msg });
      return { ok: false, errors: diag.errors };
    }
    name = explicit;
  } else {
    name = normalizeProjectName(basename(workingDir));
    if (name === '') {
      diag.errors.push({
        file: loader.display(workingDir),
        line: 0,
        col: 0,
        path: '',
        message: `cannot derive a project name from the directory "${basename(workingDir)}"; set one with -p or a top-level name:`,
      });
      return { ok: false, errors: diag.errors };
    }
  }
  env.COMPOSE_PROJECT_NAME = name;

  // Profiles: --profile, else COMPOSE_PROFILES.
  const profiles =
    opts.profiles && opts.profiles.length > 0
      ? opts.profiles
      : (env.COMPOSE_PROFILES ?? '')
          .split(',')
          .map((p) => p.trim())
          .filter((p) => p !== '');

  const project = buildProject(merged, {
    name,
    workingDir,
    files,
    profiles,
    environment: env,
    diag,
    resolvePath: (p) => resolvePath(p, workingDir, processEnv.HOME),
    readText: (p) => loader.io.readText(p),
    normalize: opts.normalize !== false,
    consistency: opts.consistency !== false,
    keepUnused: opts.keepUnused === true,
  });
  if (project && opts.resolveFiles) {
    foldServiceFiles(project, {
      diag,
      readText: (p) => loader.io.readText(resolvePath(p, workingDir, processEnv.HOME)),
      display: (p) => loader.display(resolvePath(p, workingDir, processEnv.HOME)),
    });
  }
  if (!project || diag.errors.length > 0) return { ok: false, errors: diag.errors };
  if (!opts.sources) return { ok: true, project, warnings: diag.warnings };
  const all = loader.serviceSources(workingDir);
  const sources: Record<string, ComposeSourcePart[]> = {};
  for (const name of Object.keys(project.services)) if (all[name]) sources[name] = all[name];
  return { ok: true, project, warnings: diag.warnings, sources };
}

/** The top-level name: of the -f files (last one wins), read ahead so interpolation can use it. */
function prescanName(loader: Loader, files: string[], env: Record<string, string>): string | undefined {
  let name: string | undefined;
  for (const f of files) {
    const m = /^name:[ \t]*(.*)$/m.exec(loader.peekText(f) ?? '');
    if (!m) continue;
    let v: unknown;
    try {
      v = (yaml.load(`name: ${m[1]}`) as { name?: unknown } | undefined)?.name;
    } catch {
      continue;
    }
    if (typeof v === 'string') name = interpolate(v, (n) => env[n]).value;
  }
  return name !== undefined && validProjectName(name) ? name : undefined;
}

/** Errors in reading order: by file, then line, then column (stable otherwise). */
function sortByPlace(list: ComposeError[]): ComposeError[] {
  const order = new Map<string, number>();
  for (const e of list) if (!order.has(e.file)) order.set(e.file, order.size);
  return [...list].sort(
    (a, b) => order.get(a.file)! - order.get(b.file)! || a.line - b.line || a.col - b.col,
  );
}
