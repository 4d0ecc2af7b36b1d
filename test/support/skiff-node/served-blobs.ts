import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One blob a node's peer endpoint served (agent/image/peer.ts logs one line per blob). */
export interface ServedBlob {
  digest: string;
  bytes: number;
  /** Where the body began: more than 0 when the fetch resumed with Range. */
  offset: number;
  /** The node ID of the peer that fetched it. */
  peer: string;
}

/** What a node served to its peers, from the daemon log in its state directory. */
export function servedBlobs(stateDir: string): ServedBlob[] {
  const out: ServedBlob[] = [];
  for (const line of readFileSync(join(stateDir, 'daemon.log'), 'utf8').split('\n')) {
    if (!line.includes('blob served to a peer')) continue;
    const r = JSON.parse(line) as ServedBlob;
    out.push({ digest: r.digest, bytes: r.bytes, offset: r.offset, peer: r.peer });
  }
  return out;
}
