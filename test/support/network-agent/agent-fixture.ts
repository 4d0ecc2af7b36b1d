// A stand-in for the node agent inside a lab host: it runs a NetworkManager (and its
// DNS server) in the host's network namespace and takes calls as JSON lines on stdin,
// answering on stdout. Started by agent-client.ts through nsenter, so it shares the
// test's mount namespace and the sandboxes it creates are visible to the test.
import { createInterface } from 'node:readline';
import { NetworkManager } from '../../../agent/network/index.js';
import { isSkiffError } from '../../../lib/index.js';

const [stateDir, runDir] = process.argv.slice(2);
if (!stateDir || !runDir) {
  process.stderr.write('usage: agent-fixture STATE_DIR RUN_DIR\n');
  process.exit(2);
}
const manager = new NetworkManager({ stateDir, runDir });

type Handler = (...args: never[]) => unknown;
const methods: Record<string, Handler> = {
  restore: () => manager.restore(),
  ensureNetwork: (def: Parameters<NetworkManager['ensureNetwork']>[0]) => manager.ensureNetwork(def),
  removeNetwork: (id: string) => manager.removeNetwork(id),
  createSandbox: (id: string) => manager.createSandbox(id),
  removeSandbox: (id: string) => manager.removeSandbox(id),
  attach: (...a: Parameters<NetworkManager['attach']>) => manager.attach(...a),
  detach: (id: string) => manager.detach(id),
  check: (id: string) => manager.check(id),
  resolvConfFor: (id: string) => manager.resolvConfFor(id),
  setOverlayPeers: (...a: Parameters<NetworkManager['setOverlayPeers']>) => manager.setOverlayPeers(...a),
  overlayPeerAddresses: (id: string) => manager.overlayPeerAddresses(id),
  setServiceVips: (...a: Parameters<NetworkManager['setServiceVips']>) => manager.setServiceVips(...a),
  setRoutingMesh: (...a: Parameters<NetworkManager['setRoutingMesh']>) => manager.setRoutingMesh(...a),
  setRecords: (...a: Parameters<NetworkManager['dns']['setRecords']>) => manager.dns.setRecords(...a),
  subnetsInUse: () => manager.subnetsInUse(),
  prepareContainer: (...a: Parameters<NetworkManager['prepareContainer']>) => manager.prepareContainer(...a),
  releaseContainer: (id: string) => manager.releaseContainer(id),
  setNames: (...a: Parameters<NetworkManager['setNames']>) => manager.setNames(...a),
  listNetworks: () => manager.listNetworks(),
  releaseUnusedNetworks: () => manager.releaseUnusedNetworks(),
};

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const call = JSON.parse(line) as { id: number; method: string; args: unknown[] };
  const handler = methods[call.method];
  Promise.resolve()
    .then(() => {
      if (!handler) throw new Error(`no method ${call.method}`);
      return (handler as (...args: unknown[]) => unknown)(...call.args);
    })
    .then(
      (result) =>
        process.stdout.write(`${JSON.stringify({ id: call.id, ok: true, result: result ?? null })}\n`),
      (e: unknown) =>
        process.stdout.write(
          `${JSON.stringify({
            id: call.id,
            ok: false,
            error: {
              code: isSkiffError(e) ? e.code : 'internal',
              message: e instanceof Error ? e.message : String(e),
            },
          })}\n`,
        ),
    );
});
lines.on('close', () => {
  void manager.dns.close().then(() => process.exit(0));
});
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
