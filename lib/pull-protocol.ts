// Docker's JSON progress messages, as POST /images/create (pull) and
// POST /images/{name}/push answer them line by line. Each of skiff's own progress events
// also travels whole in an `aux` message (`aux.skiff`), so skiff's CLI prints what it
// always printed; docker's CLI skips aux messages it does not ask for.

/** An image's platform as OCI image indexes name it (lower case; the swarm model's `Platform` is Docker's). */
export interface ImagePlatform {
  os: string;
  architecture: string;
  variant?: string;
}

export type PullProgressEvent =
  | {
      type: 'resolved';
      ref: string;
      digest: string;
      platform: ImagePlatform;
      layers: { digest: string; size: number }[];
    }
  | {
      type: 'layer';
      digest: string;
      status: 'exists' | 'waiting' | 'downloading' | 'verifying' | 'done';
      current: number;
      total: number;
    }
  | { type: 'unpacking'; ref: string }
  | { type: 'done'; ref: string; id: string };

export type PushProgressEvent =
  | { type: 'blob'; digest: string; status: 'exists' | 'pushing' | 'done'; size: number }
  | { type: 'done'; ref: string; digest: string };

export interface PullMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message: string };
  aux?: { skiff?: PullProgressEvent | PushProgressEvent; Tag?: string; Digest?: string; Size?: number };
}
