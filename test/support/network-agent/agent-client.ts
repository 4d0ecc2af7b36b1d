// Drives agent-fixture.ts inside a lab host, and runs "container" commands: a
// container here is a sandbox network namespace made by the NetworkManager itself
// (the runtime joins the very same namespace), with busybox or node inside it.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { AttachedInterface } from '../../../agent/network/index.js';
import {
  type NetworkAttachmentById,
  type NetworkDefinition,
  type PublishedPort,
  SkiffError,
  type SkiffErrorCode,
} from '../../../lib/index.js';
import { type CommandResult, type LabHost, type RunOptions, runCommand } from '../../lab/index.js';

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'agent-fixture.ts');

export class NetworkAgent {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private stderr = '';

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly host: LabHost,
    readonly stateDir: string,
    readonly runDir: string,
  ) {}

  static async start(host: LabHost, name = 'agent'): Promise<NetworkAgent> {
    const stateDir = path.join(host.dir, name, 'state');
    const runDir = path.join(host.dir, name, 'run');
    mkdirSync(stateDir, { recursive: true });
    mkdirSync(runDir, { recursive: true });
    const child = spawn(
      'nsenter',
      [
        `--net=/run/netns/${host.netns}`,
        '--',
        process.execPath,
        '--import',
        'tsx',
        fixture,
        stateDir,
        runDir,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const agent = new NetworkAgent(child, host, stateDir, runDir);
    child.stderr.on('data', (b: Buffer) => {
      agent.stderr = (agent.stderr + b.toString()).slice(-8000);
    });
    const ready = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`network agent exited with ${code}: ${agent.stderr}`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        const msg = JSON.parse(line) as {
          ready?: boolean;
          id?: number;
          ok?: boolean;
          result?: unknown;
          error?: { code: SkiffErrorCode; message: string };
        };
        if (msg.ready) return resolve();
        const p = msg.id === undefined ? undefined : agent.pending.get(msg.id);
        if (!p || msg.id === undefined) return;
        agent.pending.delete(msg.id);
        if (msg.ok) p.resolve(msg.result);
        else p.reject(new SkiffError(msg.error?.code ?? 'internal', msg.error?.message ?? 'unknown error'));
      });
    });
    child.on('exit', () => {
      for (const p of agent.pending.values()) p.reject(new Error(`network agent exited: ${agent.stderr}`));
      agent.pending.clear();
    });
    await ready;
    return agent;
  }

  call<T>(method: string, ...args: unknown[]): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin.write(`${JSON.stringify({ id, method, args })}\n`);
    });
  }

  ensureNetwork(def: NetworkDefinition) {
    return this.call<void>('ensureNetwork', def);
  }
  removeNetwork(id: string) {
    return this.call<void>('removeNetwork', id);
  }
  createSandbox(id: string) {
    return this.call<{ netnsPath: string }>('createSandbox', id);
  }
  removeSandbox(id: string) {
    return this.call<void>('removeSandbox', id);
  }
  attach(id: string, netnsPath: string, attachments: NetworkAttachmentById[], ports: PublishedPort[] = []) {
    return this.call<{ interfaces: AttachedInterface[] }>('attach', id, netnsPath, attachments, ports);
  }
  detach(id: string) {
    return this.call<void>('detach', id);
  }
  resolvConfFor(id: string) {
    return this.call<string>('resolvConfFor', id);
  }

  /** Stops the agent (its DNS server goes with it). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** A sandbox with the commands a test runs "inside the container". */
export class Sandbox {
  constructor(
    readonly id: string,
    readonly netnsPath: string,
    /** The lab host it lives on: servers started in it are the lab's to kill, even if the test dies. */
    readonly host: LabHost,
  ) {}

  exec(cmd: string, args: readonly string[], opts?: RunOptions): Promise<CommandResult> {
    return runCommand('nsenter', [`--net=${this.netnsPath}`, '--', cmd, ...args], {
      timeoutMs: 20_000,
      ...opts,
    });
  }

  /** Resolves a name through the DNS server at `dnsIp` the way the container's resolver would. */
  async lookup(name: string, dnsIp: string): Promise<string[]> {
    const r = await this.exec('busybox', ['nslookup', '-type=a', name, dnsIp]);
    if (r.code !== 0) return [];
    const answer = r.stdout
      .split(/\n\s*\n/)
      .slice(1)
      .join('\n');
    return [...answer.matchAll(/Address:\s*([\d.]+)/g)].map((m) => m[1] as string);
  }

  /** Starts a long-running server inside the sandbox; stop() kills it and waits. */
  serve(cmd: string, args: readonly string[]): { stop(): Promise<void> } {
    const p = this.host.spawn('nsenter', [`--net=${this.netnsPath}`, '--', cmd, ...args]);
    return {
      stop: async () => {
        await p.kill('SIGKILL');
      },
    };
  }

  /** Serves `text` over HTTP on `port` (busybox httpd in the foreground). */
  serveHttp(dir: string, text: string, port = 80): { stop(): Promise<void> } {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'index.html'), text);
    return this.serve('busybox', ['httpd', '-f', '-p', String(port), '-h', dir]);
  }

  /** Echoes UDP datagrams back on `port` (busybox nc has no UDP). */
  serveUdpEcho(port: number): { stop(): Promise<void> } {
    const script = `const s=require('node:dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(Buffer.concat([Buffer.from('echo:'),m]),r.port,r.address));s.bind(${port});`;
    return this.serve(process.execPath, ['-e', script]);
  }

  /** Fetches http://ip:port/ (busybox wget, bounded by `timeout`). */
  async httpGet(ip: string, port: number, timeoutSeconds = 5): Promise<string | undefined> {
    const r = await this.exec('busybox', [
      'timeout',
      String(timeoutSeconds),
      'busybox',
      'wget',
      '-q',
      '-O',
      '-',
      `http://${ip}:${port}/`,
    ]);
    return r.code === 0 ? r.stdout : undefined;
  }

  /**
   * Fetches http://name:port/ resolving `name` like a container does: with the
   * resolv.conf the network layer wrote for it bind-mounted over /etc/resolv.conf in a
   * private mount namespace.
   */
  async httpGetByName(resolvConfFile: string, name: string, port: number): Promise<string | undefined> {
    const script = 'mount --bind "$1" /etc/resolv.conf && exec busybox timeout 5 busybox wget -q -O - "$2"';
    const r = await this.exec('unshare', [
      '-m',
      'sh',
      '-c',
      script,
      'sh',
      resolvConfFile,
      `http://${name}:${port}/`,
    ]);
    return r.code === 0 ? r.stdout : undefined;
  }
}

/** Sends one UDP datagram from the current namespace of `run` and returns the reply, if any. */
export function udpAskScript(ip: string, port: number, text: string): string {
  return `const s=require('node:dgram').createSocket('udp4');const t=setTimeout(()=>process.exit(1),1500);s.on('message',m=>{process.stdout.write(m.toString());clearTimeout(t);s.close();});s.send(${JSON.stringify(text)},${port},${JSON.stringify(ip)});`;
}
