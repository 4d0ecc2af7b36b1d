// Invokes CNI plugins per the CNI spec: one executable per plugin, the operation in
// CNI_* environment variables, the plugin configuration on stdin, the result (or a
// structured error) on stdout. A network is a configuration list run as a chain:
// ADD in order, each plugin seeing the previous result; DEL in reverse order with the
// cached ADD result; CHECK in order with it.
import { access } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { SkiffError } from '../../lib/index.js';
import type { Exec } from './exec.js';

export const CNI_VERSION = '1.0.0';

export interface CniPluginConfig {
  type: string;
  /** Capability arguments the plugin accepts (e.g. portMappings), per CONVENTIONS. */
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface CniConfigList {
  cniVersion: string;
  name: string;
  plugins: CniPluginConfig[];
}

export interface CniRuntimeConfig {
  containerId: string;
  netnsPath: string;
  ifName: string;
  /** Values for capability arguments; each plugin gets only those it declares. */
  capabilityArgs?: Record<string, unknown>;
}

const cniResultSchema = z.object({
  cniVersion: z.string(),
  interfaces: z
    .array(z.object({ name: z.string(), mac: z.string().optional(), sandbox: z.string().optional() }))
    .optional(),
  ips: z
    .array(
      z.object({ address: z.string(), gateway: z.string().optional(), interface: z.number().optional() }),
    )
    .optional(),
  routes: z.array(z.object({ dst: z.string(), gw: z.string().optional() })).optional(),
  dns: z.unknown().optional(),
});

export type CniResult = z.infer<typeof cniResultSchema>;

const cniErrorSchema = z.object({ code: z.number(), msg: z.string(), details: z.string().optional() });

/** Thrown when a plugin reports failure; `message` is the plugin's own words. */
export class CniPluginError extends Error {
  constructor(
    readonly plugin: string,
    readonly command: string,
    message: string,
  ) {
    super(message);
    this.name = 'CniPluginError';
  }
}

/** Parses a plugin's stdout on success. Exported for tests. */
export function parseCniResult(stdout: string, plugin: string): CniResult {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    throw new CniPluginError(plugin, 'ADD', `returned output that is not JSON: ${stdout.slice(0, 200)}`);
  }
  const parsed = cniResultSchema.safeParse(json);
  if (!parsed.success) {
    throw new CniPluginError(plugin, 'ADD', `returned a result that does not follow the CNI spec`);
  }
  return parsed.data;
}

/** The plugin's own error message from a failed run (structured error or raw stderr). */
export function parseCniError(stdout: string, stderr: string, code: number): string {
  try {
    const e = cniErrorSchema.parse(JSON.parse(stdout));
    return e.details ? `${e.msg}: ${e.details}` : e.msg;
  } catch {
    const text = (stderr.trim() || stdout.trim()).split('\n')[0];
    return text || `exited with code ${code}`;
  }
}

/** The stdin configuration for one plugin in a chain (spec section 3). Pure. */
export function pluginInput(
  list: CniConfigList,
  plugin: CniPluginConfig,
  prevResult: CniResult | undefined,
  capabilityArgs: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const { capabilities, ...rest } = plugin;
  const input: Record<string, unknown> = { ...rest, cniVersion: list.cniVersion, name: list.name };
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, enabled] of Object.entries(capabilities ?? {})) {
    if (enabled && capabilityArgs?.[cap] !== undefined) runtimeConfig[cap] = capabilityArgs[cap];
  }
  if (Object.keys(runtimeConfig).length > 0) input.runtimeConfig = runtimeConfig;
  if (prevResult) input.prevResult = prevResult;
  return input;
}

export class CniInvoker {
  constructor(
    private readonly binDirs: readonly string[],
    private readonly run: Exec,
  ) {}

  async add(list: CniConfigList, rt: CniRuntimeConfig): Promise<CniResult> {
    let prev: CniResult | undefined;
    for (const plugin of list.plugins) {
      const out = await this.invoke('ADD', list, plugin, rt, prev);
      prev = parseCniResult(out, plugin.type);
    }
    if (!prev) throw new SkiffError('internal', `CNI network ${list.name} has no plugins`);
    return prev;
  }

  async check(list: CniConfigList, rt: CniRuntimeConfig, prevResult: CniResult): Promise<void> {
    for (const plugin of list.plugins) await this.invoke('CHECK', list, plugin, rt, prevResult);
  }

  /** Best effort through the whole chain; throws the first failure after trying every plugin. */
  async del(list: CniConfigList, rt: CniRuntimeConfig, prevResult: CniResult | undefined): Promise<void> {
    let first: unknown;
    for (const plugin of [...list.plugins].reverse()) {
      try {
        await this.invoke('DEL', list, plugin, rt, prevResult);
      } catch (e) {
        first ??= e;
      }
    }
    if (first) throw first;
  }

  private async invoke(
    command: 'ADD' | 'DEL' | 'CHECK',
    list: CniConfigList,
    plugin: CniPluginConfig,
    rt: CniRuntimeConfig,
    prevResult: CniResult | undefined,
  ): Promise<string> {
    const file = await this.find(plugin.type);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: rt.containerId,
      CNI_NETNS: rt.netnsPath,
      CNI_IFNAME: rt.ifName,
      CNI_PATH: this.binDirs.join(':'),
    };
    const input = JSON.stringify(pluginInput(list, plugin, prevResult, rt.capabilityArgs));
    const r = await this.run(file, [], { input, env });
    if (r.code !== 0)
      throw new CniPluginError(plugin.type, command, parseCniError(r.stdout, r.stderr, r.code));
    return r.stdout;
  }

  private async find(type: string): Promise<string> {
    if (!/^[a-zA-Z0-9_-]+$/.test(type)) {
      throw new SkiffError('invalid_argument', `CNI plugin type "${type}" is not a plain name`);
    }
    for (const dir of this.binDirs) {
      const file = path.join(dir, type);
      try {
        await access(file);
        return file;
      } catch {}
    }
    throw new SkiffError('unavailable', `CNI plugin "${type}" not found in ${this.binDirs.join(':')}`, {
      hint: 'install the CNI plugins (Debian: apt-get install containernetworking-plugins)',
    });
  }
}
