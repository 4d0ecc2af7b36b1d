// skiff's exec route (`POST /tasks/{id}/exec`): the request body and the final status.
// Docker's exec needs a hijacked connection; one streamed response is simpler and
// works through any HTTP client: output frames, then a status frame with the exit code.
// The zod schemas that check these at each edge (node/api/exec.ts, cli/api/client.ts)
// are tied to these types. No zod here: every process loads lib, few need zod.

export interface ExecBody {
  Cmd: string[];
  /** NAME=value entries. */
  Env?: string[] | undefined;
  WorkingDir?: string | undefined;
  User?: string | undefined;
  Tty?: boolean | undefined;
  /** Start the command and answer at once (exit code 0); it runs on without the caller. */
  Detach?: boolean | undefined;
  /** Everything the command reads on stdin, base64. */
  Stdin?: string | undefined;
}

/** The last frame of an exec stream: the command's exit code, or why it could not run. */
export type ExecStatus = { ExitCode: number } | { message: string };

/**
 * With stdin streamed, the request body is the command's stdin as frames of type STDIN
 * (this content type; an empty frame first, so the request leaves before any input does)
 * and the exec request travels, as base64 JSON, in the EXEC_HEADER header.
 */
export const STDIN_CONTENT_TYPE = 'application/vnd.skiff.exec-stdin';
export const EXEC_HEADER = 'x-skiff-exec';
