import { type CompiledTemplate, compileTemplate } from './go-template.js';

// How the CLI prints: aligned tables like docker's, JSON for scripts, and an exit
// signal for commands whose outcome is a failure without being an error (a rollout
// that rolled back).

/** Thrown by a command to end with a given exit code after printing its own report. */
export class CliExit extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = 'CliExit';
  }
}

/**
 * An error reported as any other (message and hint) but with its own exit code: a
 * dry run's errors exit 2, since 1 there means "something would change".
 */
export class CliFailure extends Error {
  constructor(
    readonly error: unknown,
    readonly exitCode: number,
  ) {
    super(error instanceof Error ? error.message : String(error));
    this.name = 'CliFailure';
  }
}

export type OutputFormat = 'table' | 'json';

export function parseFormat(value: string | undefined): OutputFormat {
  if (value === undefined || value === 'table' || value === 'text') return 'table';
  if (value === 'json') return 'json';
  throw new CliUsageError(`unknown format "${value}": use table or json`);
}

/** A `--format` value that is a Go template (docker's `{{.Name}}`, `table {{.ID}}\t…`). */
function isTemplate(value: string | undefined): value is string {
  return value !== undefined && (value.includes('{{') || value.startsWith('table '));
}

/** docker's formatter: `table ` prefix off, literal `\t` and `\n` as tab and newline. */
function templateSource(format: string): { table: boolean; src: string } {
  const table = format.startsWith('table ') || format === 'table';
  const src = (table ? format.slice(5) : format).trim().replaceAll('\\t', '\t').replaceAll('\\n', '\n');
  return { table, src };
}

function compileOrUsage(src: string, strict: boolean): CompiledTemplate {
  try {
    return compileTemplate(src, { strict });
  } catch (e) {
    throw new CliUsageError(`bad --format: ${(e as Error).message}`);
  }
}

function renderOrFail(t: CompiledTemplate, data: unknown): string {
  try {
    return t.render(data);
  } catch (e) {
    // A template that fails on the data (an unknown field) is the user's input: exit 1, one line.
    process.stderr.write(`error: bad --format: ${(e as Error).message}\n`);
    throw new CliExit(1);
  }
}

/**
 * A list (ls/ps) as docker prints it: the table by default; for `json`, one line per row
 * (JSON Lines, as docker's `{{json .}}`): the row object a template sees, keys sorted as
 * Go's encoding/json sorts a map's; or a Go template per row (`--format '{{.Name}}'`;
 * `table …` adds the headers and aligns the tab-separated columns).
 */
export function printList(
  format: string | undefined,
  columns: { header: string; field: string }[],
  rows: string[][],
  /**
   * More fields of each row object, beyond the columns' (typed values: `{{if .Self}}`),
   * as docker's row has them; a field named here wins over a column's cell.
   */
  extra?: Record<string, unknown>[],
): void {
  const objects = () =>
    rows.map((r, n) => ({
      ...Object.fromEntries(columns.map((c, i) => [c.field, r[i] ?? ''])),
      ...extra?.[n],
    }));
  if (!isTemplate(format)) {
    if (parseFormat(format) === 'json') process.stdout.write(objects().map(jsonLine).join(''));
    else
      printTable(
        columns.map((c) => c.header),
        rows,
      );
    return;
  }
  const { table, src } = templateSource(format);
  const t = compileOrUsage(src, true);
  const lines = objects().map((o) => renderOrFail(t, o));
  if (!table) {
    process.stdout.write(lines.map((l) => `${l}\n`).join(''));
    return;
  }
  const header = renderOrFail(t, Object.fromEntries(columns.map((c) => [c.field, c.header])));
  const cells = (l: string) => l.split('\t');
  const head = cells(header);
  process.stdout.write(renderTable(head, lines.map(cells)));
}

/**
 * One row as docker's `{{json .}}` prints it: keys sorted, and `<`, `>`, `&`, U+2028 and
 * U+2029 escaped as Go's encoding/json escapes them (the same JSON, byte for byte).
 */
function jsonLine(row: Record<string, unknown>): string {
  const sorted = Object.fromEntries(Object.entries(row).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const text = JSON.stringify(sorted).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return `${text}\n`;
}

/**
 * A time as Go's `time.Time.String()` prints it, which docker's rows use for `CreatedAt`
 * (`2026-12-07 16:45:14.092 +0000 UTC`), in UTC: the fraction as the API gave it, its
 * trailing zeros dropped.
 */
export function goTime(iso: string | number): string {
  const d = typeof iso === 'number' ? new Date(iso * 1000) : new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const base = d.toISOString().slice(0, 19).replace('T', ' ');
  const frac = (typeof iso === 'string' ? /\.(\d+)/.exec(iso)?.[1] : undefined)?.replace(/0+$/, '');
  return `${base}${frac ? `.${frac}` : ''} +0000 UTC`;
}

/** Labels as docker's rows print them: `k=v` joined by commas (sorted: Go's map order is random). */
export function labelList(labels: Record<string, string> | undefined): string {
  return Object.entries(labels ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** An inspect: the JSON array by default or for `json`, else a Go template per object. */
export function printInspect(format: string | undefined, objects: unknown[]): void {
  if (format === undefined || format === 'json') {
    printJson(objects);
    return;
  }
  if (!isTemplate(format)) {
    throw new CliUsageError(`unknown format "${format}": use json or a Go template such as '{{.ID}}'`);
  }
  const t = compileOrUsage(templateSource(format).src, false);
  process.stdout.write(objects.map((o) => `${renderOrFail(t, o)}\n`).join(''));
}

/** A usage error: exit code 2, with the usage line. */
export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliUsageError';
  }
}

/** Columns separated by three spaces, padded to the widest cell, as docker prints. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export function printTable(headers: string[], rows: string[][]): void {
  process.stdout.write(renderTable(headers, rows));
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Docker's sizes (go-units HumanSize): decimal units, four significant digits (three for
 * `image ls`'s SIZE, as docker's HumanSizeWithPrecision there).
 */
export function humanSize(bytes: number, precision = 4): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(precision))}${units[i]}`;
}

/** "2 minutes ago" style ages for task and node tables. */
export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 2) return 'Less than a second ago';
  if (s < 60) return `${s} seconds ago`;
  const m = Math.round(s / 60);
  if (m < 60) return m === 1 ? 'About a minute ago' : `${m} minutes ago`;
  const h = Math.round(m / 60);
  if (h < 48) return h === 1 ? 'About an hour ago' : `${h} hours ago`;
  return `${Math.round(h / 24)} days ago`;
}

/**
 * How docker's `-q` prints IDs (docker CLI 28 on a dockerd 20.10 swarm): `full` whole IDs
 * (`node ls`, `secret ls`, `config ls`, `service ps`, `compose ps`), `short` always 12
 * characters (`service ls`, `stack services`), `trunc` 12 unless --no-trunc (`stack ps`,
 * `node ps`, `network ls`, `image ls`). An image ID loses its `sha256:` when cut.
 */
export type QuietIds = 'full' | 'short' | 'trunc';

/** The lines `-q` prints for these IDs under docker's rule for the command. */
export function quietLines(ids: readonly string[], rule: QuietIds, trunc = true): string {
  const cut = rule === 'short' || (rule === 'trunc' && trunc);
  return ids.map((id) => `${cut ? shortId(id.replace(/^sha256:/, '')) : id}\n`).join('');
}

export function shortId(id: string): string {
  return id.slice(0, 12);
}

/** All of stdin, as text (keys and tokens handed over off the command line). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
