// Docker's image pull progress messages (JSON lines from POST /images/create), made
// from the image service's pull events.
import type { image } from '../../agent/index.js';

export interface PullMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message: string };
}

const LAYER_STATUS: Record<string, string> = {
  exists: 'Already exists',
  waiting: 'Waiting',
  downloading: 'Downloading',
  verifying: 'Verifying Checksum',
  done: 'Download complete',
};

export function pullMessages(e: image.PullEvent): PullMessage[] {
  switch (e.type) {
    case 'resolved':
      return [
        { status: `Pulling from ${e.ref}` },
        ...e.layers.map((l) => ({
          status: 'Waiting',
          id: shortDigest(l.digest),
          progressDetail: { current: 0, total: l.size },
        })),
      ];
    case 'layer':
      return [
        {
          status: LAYER_STATUS[e.status] ?? e.status,
          id: shortDigest(e.digest),
          progressDetail: { current: e.current, total: e.total },
        },
      ];
    case 'unpacking':
      return [{ status: 'Extracting' }];
    case 'done':
      return [];
  }
}

function shortDigest(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}
