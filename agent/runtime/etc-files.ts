// The /etc/hosts and /etc/resolv.conf the agent writes for a container (Docker's
// defaults); the formatting is pure, the host's resolv.conf is read by the caller.

/** /etc/hosts: localhost entries, the container's own name, then ContainerSpec.Hosts. */
export function hostsFile(hostname: string, extra: string[]): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    `127.0.1.1\t${hostname}`,
  ];
  // ContainerSpec.Hosts entries are "IP host [alias…]" (the API also accepts "host:IP").
  for (const h of extra) {
    const parts = h.trim().split(/\s+/);
    if (parts.length >= 2) lines.push(`${parts[0]}\t${parts.slice(1).join(' ')}`);
    else if (h.includes(':')) {
      const i = h.indexOf(':');
      lines.push(`${h.slice(i + 1)}\t${h.slice(0, i)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * /etc/resolv.conf from the spec's DNSConfig; what it leaves out comes from the host's
 * file, minus loopback nameservers that mean nothing inside the container.
 */
export function resolvConfFile(
  dns: { Nameservers?: string[]; Search?: string[]; Options?: string[] } | undefined,
  hostResolvConf: string,
): string {
  let servers = dns?.Nameservers ?? [];
  let search = dns?.Search ?? [];
  let options = dns?.Options ?? [];
  for (const line of hostResolvConf.split('\n')) {
    const [key, ...rest] = line.trim().split(/\s+/);
    if (key === 'nameserver' && (dns?.Nameservers ?? []).length === 0 && rest[0] && !isLoopback(rest[0])) {
      servers = [...servers, rest[0]];
    }
    if (key === 'search' && search.length === 0) search = rest;
    if (key === 'options' && options.length === 0) options = rest;
  }
  const lines = servers.map((s) => `nameserver ${s}`);
  if (search.length > 0) lines.push(`search ${search.join(' ')}`);
  if (options.length > 0) lines.push(`options ${options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}
