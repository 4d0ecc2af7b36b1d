// The agent's pull and push events as Docker's JSON progress messages, each event also
// whole in an aux message for skiff's CLI.
import type { image } from '../../agent/index.js';
import type { PullMessage, PullProgressEvent, PushProgressEvent } from '../../lib/index.js';

const LAYER_STATUS: Record<string, string> = {
  exists: 'Already exists',
  waiting: 'Waiting',
  downloading: 'Downloading',
  verifying: 'Verifying Checksum',
  done: 'Download complete',
};

export function pullMessages(e: image.PullEvent): PullMessage[] {
  const aux: PullMessage = { aux: { skiff: e satisfies PullProgressEvent } };
  switch (e.type) {
    case 'resolved':
      return [
        aux,
        { status: `Pulling from ${e.ref}` },
        ...e.layers.map((l) => ({
          status: 'Waiting',
          id: shortDigest(l.digest),
          progressDetail: { current: 0, total: l.size },
        })),
      ];
    case 'layer':
      return [
        aux,
        {
          status: LAYER_STATUS[e.status] ?? e.status,
          id: shortDigest(e.digest),
          progressDetail: { current: e.current, total: e.total },
        },
      ];
    case 'unpacking':
      return [aux, { status: 'Extracting' }];
    case 'done':
      return [aux];
  }
}

const BLOB_STATUS: Record<string, string> = {
  exists: 'Layer already exists',
  pushing: 'Pushing',
  done: 'Pushed',
};

export function pushMessages(e: image.PushEvent): PullMessage[] {
  const aux: PullMessage = { aux: { skiff: e satisfies PushProgressEvent } };
  if (e.type === 'blob') {
    return [
      aux,
      {
        status: BLOB_STATUS[e.status] ?? e.status,
        id: shortDigest(e.digest),
        progressDetail: { total: e.size },
      },
    ];
  }
  return [aux, { status: `${tagOf(e.ref)}: digest: ${e.digest}` }];
}

function tagOf(ref: string): string {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? ref.slice(colon + 1) : 'latest';
}

function shortDigest(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}
