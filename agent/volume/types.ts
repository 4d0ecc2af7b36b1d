/** One entry of an OCI runtime config's `mounts`. */
export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

/** A secret or config file materialised for one container (secrets only on tmpfs). */
export interface ContainerFile {
  kind: 'secret' | 'config';
  /** Absolute path inside the container, or a bare name (secrets: /run/secrets/<name>, configs: /<name>). */
  target: string;
  data: Uint8Array;
  uid: number;
  gid: number;
  mode: number;
}
