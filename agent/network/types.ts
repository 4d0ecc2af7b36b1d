// The shapes other components hand to the network layer (defined in
// lib/network-attachment.ts), validated at this boundary, addresses included.
import { z } from 'zod';
import {
  NETWORK_DRIVERS,
  type NetworkAttachmentById,
  type NetworkDefinition,
  type PublishedPort,
  SkiffError,
} from '../../lib/index.js';
import { cidrContains, formatCidr, isIpv4, parseCidr, parseIpv4 } from './cidr.js';

// lib's shapes checked at this edge: each schema is tied to its type, so they cannot drift.
export const networkDefinitionSchema = z.object({
  id: z.string().min(1).max(256),
  name: z.string().min(1).max(256),
  driver: z.enum(NETWORK_DRIVERS),
  subnet: z.string(),
  gateway: z.string(),
  vxlanId: z.number().int().min(1).max(16_777_215).optional(),
  internal: z.boolean().optional(),
  mtu: z.number().int().min(68).max(65_535).optional(),
  encrypted: z.boolean().optional(),
  labels: z.record(z.string(), z.string()).optional(),
}) satisfies z.ZodType<NetworkDefinition>;

export const networkAttachmentByIdSchema = z.object({
  networkId: z.string().min(1),
  aliases: z.array(z.string().min(1).max(253)),
  ipv4Address: z.string().optional(),
}) satisfies z.ZodType<NetworkAttachmentById>;

export const publishedPortSchema = z.object({
  containerPort: z.number().int().min(1).max(65_535),
  hostPort: z.number().int().min(1).max(65_535),
  protocol: z.enum(['tcp', 'udp']),
  hostIp: z.string().optional(),
}) satisfies z.ZodType<PublishedPort>;

/** CNI's rule for container IDs (and a safe file name). */
const containerIdPattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

export interface AttachedInterface {
  name: string;
  networkId: string;
  ip: string;
  mac: string;
}

function describeIssues(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.join('.') || '(value)'}: ${i.message}`).join('; ');
}

export function validateContainerId(containerId: string): void {
  if (!containerIdPattern.test(containerId)) {
    throw new SkiffError('invalid_argument', `container ID "${containerId}" is not valid`, {
      hint: 'use letters, digits, "_", "." and "-", starting with a letter or digit',
    });
  }
}

/** Parses a network definition and checks its addresses; throws invalid_argument. */
export function validateNetworkDefinition(input: unknown): NetworkDefinition {
  const parsed = networkDefinitionSchema.safeParse(input);
  if (!parsed.success) {
    throw new SkiffError('invalid_argument', `invalid network definition: ${describeIssues(parsed.error)}`);
  }
  const def = parsed.data;
  const where = `network ${def.name}`;
  const subnet = withContext(where, () => parseCidr(def.subnet));
  if (subnet.prefixLength > 30) {
    throw new SkiffError('invalid_argument', `${where}: subnet ${def.subnet} is too small for containers`, {
      hint: 'use a /30 or larger subnet, e.g. a /24',
    });
  }
  const gateway = withContext(where, () => parseIpv4(def.gateway));
  if (!cidrContains(subnet, gateway) || gateway === subnet.network) {
    throw new SkiffError(
      'invalid_argument',
      `${where}: gateway ${def.gateway} is not a host address of ${formatCidr(subnet)}`,
    );
  }
  if (def.driver === 'overlay' && def.vxlanId === undefined) {
    throw new SkiffError('invalid_argument', `${where}: an overlay network needs a vxlanId (1-16777215)`);
  }
  return def;
}

export function validateAttachments(input: unknown): NetworkAttachmentById[] {
  const parsed = z.array(networkAttachmentByIdSchema).min(1).safeParse(input);
  if (!parsed.success) {
    throw new SkiffError('invalid_argument', `invalid network attachments: ${describeIssues(parsed.error)}`);
  }
  const seen = new Set<string>();
  for (const a of parsed.data) {
    if (seen.has(a.networkId)) {
      throw new SkiffError('invalid_argument', `network ${a.networkId} is listed twice for one container`);
    }
    seen.add(a.networkId);
    if (a.ipv4Address !== undefined && !isIpv4(a.ipv4Address)) {
      throw new SkiffError('invalid_argument', `"${a.ipv4Address}" is not an IPv4 address`);
    }
  }
  return parsed.data;
}

export function validatePorts(input: unknown): PublishedPort[] {
  const parsed = z.array(publishedPortSchema).safeParse(input ?? []);
  if (!parsed.success) {
    throw new SkiffError('invalid_argument', `invalid published ports: ${describeIssues(parsed.error)}`);
  }
  const seen = new Set<string>();
  for (const p of parsed.data) {
    if (p.hostIp !== undefined && !isIpv4(p.hostIp)) {
      throw new SkiffError(
        'invalid_argument',
        `published port ${p.hostPort}: "${p.hostIp}" is not an IPv4 address`,
      );
    }
    const key = `${p.hostIp ?? '*'}:${p.hostPort}/${p.protocol}`;
    if (seen.has(key)) throw new SkiffError('invalid_argument', `host port ${key} is published twice`);
    seen.add(key);
  }
  return parsed.data;
}

function withContext<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof SkiffError)
      throw new SkiffError(e.code, `${where}: ${e.message}`, { hint: e.hint ?? '' });
    throw e;
  }
}
