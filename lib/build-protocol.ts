// What skiff's CLI adds to Docker's classic `POST /build`: a build's secrets and ssh keys
// (compose's `build.secrets` and `build.ssh`). Docker sends these over BuildKit's session
// (a gRPC stream the builder calls back on); the classic API has no place for them, and
// build args or query parameters end up in images, history and logs. skiff puts them in
// the request body, before the context tar: the query names only the length of a JSON
// block that opens the body. The body travels over the node's unix socket or mTLS, the
// node keeps the block in memory and writes each value to a 0600 file in the build's
// run dir (tmpfs), removed with the build.

/** The query parameter naming the length, in bytes, of the credentials block that opens the body. */
export const BUILD_CREDENTIALS_PARAM = 'skiffcredentials';

/** The largest credentials block a node reads (Docker Swarm's secrets are at most 500 KB each). */
export const BUILD_CREDENTIALS_MAX_BYTES = 4 * 1024 * 1024;

/** An id as `RUN --mount=type=secret,id=…` / `type=ssh,id=…` names it: what buildah's `id=` accepts. */
export const BUILD_SECRET_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** The JSON block: values base64-encoded. */
export interface BuildCredentials {
  secrets?: { id: string; data: string }[];
  /**
   * `key`: a private key's PEM text (base64), read by the CLI from its file. `socket`:
   * an ssh-agent socket's path, only for a node on the CLI's own machine (its unix socket).
   */
  ssh?: ({ id: string; key: string } | { id: string; socket: string })[];
}
