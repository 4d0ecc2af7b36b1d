// Running a program inside a network namespace made with `ip netns add`.

/**
 * The command line that runs `command args` inside the network namespace `netns`.
 * `ip netns exec` also gives the program a private mount namespace with the namespace's
 * own /sys; `sharedMounts` joins only the network namespace (`nsenter --net`), so
 * mounts the program makes (netns bind mounts, rootfs overlays) are visible outside it.
 */
export function inNetns(
  netns: string,
  command: string,
  args: readonly string[],
  sharedMounts = false,
): [string, string[]] {
  return sharedMounts
    ? ['nsenter', [`--net=/run/netns/${netns}`, '--', command, ...args]]
    : ['ip', ['netns', 'exec', netns, command, ...args]];
}
