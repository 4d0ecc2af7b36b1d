// Service VIPs, balanced in each client container's own network namespace: a DNAT rule
// in the namespace's OUTPUT hook sends a new connection (TCP or UDP) to a VIP to one of
// the service's serving tasks, picked by `numgen random`; conntrack keeps every
// established flow on the task it started with, so a task taken out of the set (failing
// its health check, stopping) gets no new connections while its open ones go on. Done
// in the client's namespace, as Swarm does with IPVS there: the translated packet
// leaves with a task address as destination, so it crosses hosts over the overlay like
// any other, and no node holds state for another node's containers. No IPVS on this
// kernel: nftables has everything needed (numgen, maps, NAT).
import type { Logger, ServiceVip } from '../../lib/index.js';
import { silentLogger } from '../../lib/index.js';
import type { Exec } from './exec.js';

/** The table each container's namespace holds its VIP rules in. */
export const LB_TABLE = 'skiff_lb';

/**
 * The whole table for a namespace, replaced atomically by one `nft -f` (creating the
 * table first makes the delete valid when it does not exist yet). Traffic to a VIP that
 * no rule translated (no serving task; ICMP) is refused at once instead of going out the
 * default route. Pure. Empty text when there are no VIPs.
 */
export function lbRuleset(vips: readonly ServiceVip[]): string {
  const sorted = [...vips].sort((a, b) => (a.vip < b.vip ? -1 : a.vip > b.vip ? 1 : 0));
  if (sorted.length === 0) return '';
  const dnat = sorted
    .filter((v) => v.backends.length > 0)
    .map((v) => {
      const map = v.backends.map((b, i) => `${i} : ${b}`).join(', ');
      return `    ip daddr ${v.vip} meta l4proto { tcp, udp } dnat to numgen random mod ${v.backends.length} map { ${map} }`;
    });
  const all = sorted.map((v) => v.vip).join(', ');
  return [
    `table ip ${LB_TABLE} {}`,
    `delete table ip ${LB_TABLE}`,
    `table ip ${LB_TABLE} {`,
    '  chain vip_nat {',
    '    type nat hook output priority -100; policy accept;',
    ...dnat,
    '  }',
    '  chain vip_refuse {',
    '    type filter hook output priority 0; policy accept;',
    `    ip daddr { ${all} } meta l4proto tcp reject with tcp reset`,
    `    ip daddr { ${all} } reject`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Merges the VIPs of several networks (a container on two networks sees both). */
export function mergeVips(lists: readonly (readonly ServiceVip[])[]): ServiceVip[] {
  const byVip = new Map<string, Set<string>>();
  for (const list of lists) {
    for (const v of list) {
      const set = byVip.get(v.vip) ?? new Set<string>();
      for (const b of v.backends) set.add(b);
      byVip.set(v.vip, set);
    }
  }
  return [...byVip].map(([vip, backends]) => ({ vip, backends: [...backends].sort() }));
}

/**
 * A batch runs once changes have paused this long (the dispatcher sends a burst's views
 * at least 50 ms apart: a deploy's tasks coming up are one burst)…
 */
const BATCH_QUIET_MS = 100;
/**
 * …or once the oldest change waited this long, so a steady stream still gets batches.
 * Far below the 2 s a stopping task waits after leaving a VIP's set (networking.md).
 */
const BATCH_MAX_WAIT_MS = 500;
/**
 * While containers are starting on this node, a due batch waits (another quiet pause at
 * a time) for at most this long after its oldest change: a batch is a few hundred ms of
 * nsenter+nft on a 2-core node, and run in the middle of a deploy it delays every task
 * still starting, while rewriting other containers' tables can wait a little (they keep
 * balancing over the tasks they had). With the batch's own run, still well within the
 * 2 s a stopping task waits after leaving a VIP's set.
 */
const BATCH_MAX_DEFER_MS = 1_000;
/** A ruleset larger than this goes to nft alone, on stdin (an argument holds 128 KiB at most). */
const MAX_ARG_RULESET = 64 * 1024;
/** The arguments of one batch exec, at most (the kernel's ARG_MAX is 2 MiB here). */
const MAX_BATCH_ARGS = 512 * 1024;

/** One namespace's table to write: its path and the whole ruleset (`lbRuleset`). */
export interface LbWrite {
  netnsPath: string;
  text: string;
}

/**
 * Marks each namespace's result in a batch's output: `@skiff-lb INDEX EXIT-CODE`, after
 * what nft said about it.
 */
const MARK = '@skiff-lb';

/**
 * The fixed script that writes several namespaces' tables in one exec: its arguments
 * are (namespace path, ruleset) pairs, never part of the script text, so a ruleset is
 * only ever nft's input. One at a time, so a burst does not crowd the CPU that starting
 * tasks need.
 */
const BATCH_SCRIPT = [
  'i=0',
  'while [ "$#" -ge 2 ]; do',
  `  printf '%s' "$2" | nsenter --net="$1" nft -f - 2>&1`,
  `  echo "${MARK} $i $?"`,
  '  i=$((i + 1))',
  '  shift 2',
  'done',
].join('\n');

/** The `sh` arguments writing these tables in one exec. Pure. */
export function batchArgs(writes: readonly LbWrite[]): string[] {
  return ['-c', BATCH_SCRIPT, 'skiff-lb', ...writes.flatMap((w) => [w.netnsPath, nftInput(w.text)])];
}

const MARK_LINE = new RegExp(`^${MARK} (\\d+) (\\d+)$`);

/**
 * Each write's outcome from a batch's output: undefined when nft took it, its complaint
 * when not, null when the script never reached it (as when sh itself failed). Pure.
 */
export function batchOutcomes(stdout: string, count: number): (string | undefined | null)[] {
  const outcomes: (string | undefined | null)[] = Array.from({ length: count }, () => null);
  let said: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = MARK_LINE.exec(line);
    if (!m) {
      if (line.trim() !== '') said.push(line.trim());
      continue;
    }
    const i = Number(m[1]);
    if (i < count) outcomes[i] = m[2] === '0' ? undefined : (said[0] ?? `exit code ${m[2]}`);
    said = [];
  }
  return outcomes;
}

/** What nft is given for a table: its ruleset, or the table's removal when no VIP is left. */
function nftInput(text: string): string {
  return text === '' ? `table ip ${LB_TABLE} {}\ndelete table ip ${LB_TABLE}\n` : text;
}

/** A promise and what settles it. */
function signal(): { promise: Promise<void>; done: () => void } {
  let done = () => {};
  const promise = new Promise<void>((resolve) => {
    done = () => resolve();
  });
  return { promise, done };
}

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Marked {
  netnsPath: string;
  wanted: () => readonly ServiceVip[] | undefined;
  waiters: Waiter[];
  /** This rewrite takes a stopping task out of a VIP's set. */
  urgent: boolean;
}

interface BatchItem extends LbWrite {
  containerId: string;
  vips: number;
  waiters: Waiter[];
}

/**
 * Keeps each container namespace's table equal to what `wanted` says. Rewrites are
 * coalesced: `sync` marks the container, and one batch at a time rewrites every marked
 * table whose text changed — in one exec (a fixed script entering each namespace in
 * turn), reading `wanted` when the batch runs. The latest view wins: a burst of changes
 * becomes one rewrite per namespace, and the changes arriving while a batch runs
 * become the next batch, not one exec per container per change. A new container's
 * first table (`syncNow`, on its start path) does not queue behind the batches: it
 * goes at once, or with the other starting containers' tables in the exec after the
 * one in flight, and waits for a batch only when that batch writes its own table.
 */
export class ServiceLoadBalancer {
  private readonly applied = new Map<string, string>();
  /** Containers marked for the next batch, with the callers waiting for it. */
  private readonly marked = new Map<string, Marked>();
  /** Starting containers' tables to write at once (`syncNow`), with the callers waiting. */
  private readonly nowQueue = new Map<string, Omit<Marked, 'urgent'>>();
  /** A write of starting containers' tables is in flight. */
  private nowRunning = false;
  /** Containers whose table is being written (by a batch or `syncNow`): done when settled. */
  private readonly writing = new Map<string, Promise<void>>();
  private batchRunning = false;
  private timer: NodeJS.Timeout | undefined;
  /** When the oldest change not yet in a batch came (performance.now()). */
  private burstStart: number | undefined;
  private readonly quietMs: number;
  private readonly maxWaitMs: number;
  private readonly maxDeferMs: number;
  private readonly starting: () => boolean;
  private readonly log: Logger;

  /** `starting`: whether containers are being started on this node now (batches yield to them). */
  constructor(
    private readonly run: Exec,
    log: Logger = silentLogger,
    options: { quietMs?: number; maxWaitMs?: number; maxDeferMs?: number; starting?: () => boolean } = {},
  ) {
    this.log = log.child({ component: 'service-lb' });
    this.quietMs = options.quietMs ?? BATCH_QUIET_MS;
    this.maxWaitMs = options.maxWaitMs ?? BATCH_MAX_WAIT_MS;
    this.maxDeferMs = Math.max(this.maxWaitMs, options.maxDeferMs ?? BATCH_MAX_DEFER_MS);
    this.starting = options.starting ?? (() => false);
  }

  /**
   * Has the container's table brought up to date by the next batch; `wanted` is read
   * when the batch runs. Rejects when nft refuses the ruleset. `urgent`: it takes a
   * stopping task out of a VIP's set (its drain), so the batch runs at once, without
   * waiting for a pause in the changes or for starting containers.
   */
  sync(
    containerId: string,
    netnsPath: string,
    wanted: () => readonly ServiceVip[] | undefined,
    urgent = false,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const m = this.marked.get(containerId);
      if (m) {
        m.netnsPath = netnsPath;
        m.wanted = wanted;
        m.urgent ||= urgent;
        m.waiters.push({ resolve, reject });
      } else this.marked.set(containerId, { netnsPath, wanted, waiters: [{ resolve, reject }], urgent });
      this.burstStart ??= performance.now();
      this.schedule();
    });
  }

  /**
   * Brings the container's table up to date now: for a container about to start, whose
   * first connection must already balance. Not behind the batches (their quiet pauses
   * and deferrals), nor behind a write to another table: it goes at once when no other
   * starting container's write is in flight, and with the others that came meanwhile
   * in one exec right after it (a deploy's 15 containers: a few execs, not one each,
   * where every exec's fork and nsenter take CPU from the containers starting). Waits
   * for a batch writing this container's table. Throws when nft refuses the ruleset.
   */
  syncNow(
    containerId: string,
    netnsPath: string,
    wanted: () => readonly ServiceVip[] | undefined,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const q = this.nowQueue.get(containerId);
      if (q) {
        q.netnsPath = netnsPath;
        q.wanted = wanted;
        q.waiters.push({ resolve, reject });
      } else this.nowQueue.set(containerId, { netnsPath, wanted, waiters: [{ resolve, reject }] });
      void this.flushNow();
    });
  }

  /** Writes the starting containers' tables queued by syncNow, one exec at a time, until none is left. */
  private async flushNow(): Promise<void> {
    if (this.nowRunning) return;
    this.nowRunning = true;
    try {
      while (this.nowQueue.size > 0) {
        const free = [...this.nowQueue].filter(([id]) => !this.writing.has(id));
        if (free.length === 0) {
          // Each waits for the batch writing its table, then for a write of the view after it.
          await Promise.race([...this.nowQueue.keys()].map((id) => this.writing.get(id)));
          continue;
        }
        const items: BatchItem[] = [];
        const { promise: written, done } = signal();
        for (const [containerId, q] of free) {
          this.nowQueue.delete(containerId);
          this.take(items, containerId, q, written);
        }
        try {
          this.settle(items, await this.write(items));
        } finally {
          this.release(items, written);
          done();
          this.schedule();
        }
      }
    } finally {
      this.nowRunning = false;
    }
  }

  /**
   * Adds a container's wanted table to a write (`written` settles once it is done), or
   * answers its waiters at once when there is nothing to write: detached meanwhile, or
   * the table on it already.
   */
  private take(
    items: BatchItem[],
    containerId: string,
    entry: Pick<Marked, 'netnsPath' | 'wanted' | 'waiters'>,
    written: Promise<void>,
  ): void {
    const vips = entry.wanted(); // undefined: detached meanwhile
    const text = vips === undefined ? '' : lbRuleset(vips);
    if (vips === undefined || text === (this.applied.get(containerId) ?? '')) {
      for (const w of entry.waiters) w.resolve();
      return;
    }
    items.push({ containerId, netnsPath: entry.netnsPath, text, vips: vips.length, waiters: entry.waiters });
    this.writing.set(containerId, written);
  }

  /** The write of `items` ended: their tables are no longer being written by it. */
  private release(items: readonly BatchItem[], written: Promise<void>): void {
    for (const item of items)
      if (this.writing.get(item.containerId) === written) this.writing.delete(item.containerId);
  }

  /** Records what each write did and answers its callers. */
  private settle(items: readonly BatchItem[], complaints: readonly (string | undefined)[]): void {
    for (const [i, item] of items.entries()) {
      const complaint = complaints[i];
      if (complaint === undefined) {
        this.applied.set(item.containerId, item.text);
        this.log.debug({ containerId: item.containerId, vips: item.vips }, 'service VIPs programmed');
        for (const w of item.waiters) w.resolve();
      } else {
        this.applied.delete(item.containerId);
        const e = new Error(`nft in ${item.netnsPath}: ${complaint}`);
        for (const w of item.waiters) w.reject(e);
      }
    }
  }

  /** The table may hold anything (it outlived the agent): the next sync rewrites it. */
  unknown(containerId: string): void {
    this.applied.set(containerId, '#unknown');
  }

  /** The container's namespace is gone with its table. */
  forget(containerId: string): void {
    this.applied.delete(containerId);
  }

  /**
   * (Re)starts the next batch's clock: after a pause in the changes, at most the longest
   * wait after the oldest. None while a batch runs (it reschedules when done).
   */
  private schedule(): void {
    if (this.batchRunning) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const due = [...this.marked].filter(([id]) => !this.writing.has(id));
    if (due.length === 0) return;
    const urgent = due.some(([, m]) => m.urgent);
    const waited = performance.now() - (this.burstStart ?? performance.now());
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        if (!urgent && this.deferred()) this.timer = setTimeout(() => this.schedule(), this.quietMs);
        else void this.runBatch();
      },
      urgent ? 0 : Math.max(0, Math.min(this.quietMs, this.maxWaitMs - waited)),
    );
  }

  /** A due batch waits while containers start here, up to the longest deferral after its oldest change. */
  private deferred(): boolean {
    const waited = performance.now() - (this.burstStart ?? performance.now());
    return waited + this.quietMs <= this.maxDeferMs && this.starting();
  }

  private async runBatch(): Promise<void> {
    this.batchRunning = true;
    this.burstStart = undefined;
    const items: BatchItem[] = [];
    const { promise: written, done } = signal();
    try {
      for (const [containerId, m] of this.marked) {
        if (this.writing.has(containerId)) continue; // syncNow is on it: the next batch reads after it
        this.marked.delete(containerId);
        this.take(items, containerId, m, written);
      }
      this.settle(items, await this.write(items));
    } finally {
      this.release(items, written);
      done();
      this.batchRunning = false;
      this.schedule();
    }
  }

  /** Writes the tables, as few execs as the argument limits allow; each write's complaint, if any. */
  private async write(items: readonly LbWrite[]): Promise<(string | undefined)[]> {
    const complaints: (string | undefined)[] = [];
    let group: LbWrite[] = [];
    let size = 0;
    const flush = async () => {
      if (group.length === 1) complaints.push(await this.writeOne(group[0] as LbWrite));
      else if (group.length > 1) complaints.push(...(await this.writeBatch(group)));
      group = [];
      size = 0;
    };
    for (const item of items) {
      const bytes = item.netnsPath.length + item.text.length;
      if (item.text.length > MAX_ARG_RULESET) {
        await flush();
        complaints.push(await this.writeOne(item));
        continue;
      }
      if (size + bytes > MAX_BATCH_ARGS) await flush();
      group.push(item);
      size += bytes;
    }
    await flush();
    return complaints;
  }

  private async writeOne(w: LbWrite): Promise<string | undefined> {
    try {
      const r = await this.run('nsenter', [`--net=${w.netnsPath}`, 'nft', '-f', '-'], {
        input: nftInput(w.text),
      });
      return r.code === 0 ? undefined : (r.stderr.trim() || `exit code ${r.code}`).split('\n')[0];
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  private async writeBatch(writes: readonly LbWrite[]): Promise<(string | undefined)[]> {
    try {
      const r = await this.run('sh', batchArgs(writes));
      const outcomes = batchOutcomes(r.stdout, writes.length);
      const why = (r.stderr.trim() || `exit code ${r.code}`).split('\n')[0] ?? '';
      return outcomes.map((o) => (o === null ? `not applied: ${why}` : o));
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      return writes.map(() => why);
    }
  }
}
