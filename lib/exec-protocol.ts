// The request body of skiff's exec route (`POST /tasks/{id}/exec`), checked at the edge.
// Docker's exec needs a hijacked connection; one streamed response is simpler and
// works through any HTTP client: output frames, then a status frame with the exit code.
import { z } from 'zod';

export const ExecBodySchema = z
  .object({
    Cmd: z.array(z.string()).min(1, 'exec needs a command'),
    Env: z.array(z.string().regex(/^[^=]+=/, 'an environment entry is NAME=value')).optional(),
    WorkingDir: z.string().optional(),
    User: z.string().optional(),
    Tty: z.boolean().optional(),
    /** Start the command and answer at once (exit code 0); it runs on without the caller. */
    Detach: z.boolean().optional(),
    /** Everything the command reads on stdin, base64. */
    Stdin: z.string().base64().optional(),
  })
  .strict();

export type ExecBody = z.infer<typeof ExecBodySchema>;

export const ExecStatusSchema = z.union([
  z.object({ ExitCode: z.number().int() }),
  z.object({ message: z.string() }),
]);
export type ExecStatus = z.infer<typeof ExecStatusSchema>;

/**
 * With stdin streamed, the request body is the command's stdin as frames of type STDIN
 * (this content type; an empty frame first, so the request leaves before any input does)
 * and the exec request travels, as base64 JSON, in the EXEC_HEADER header.
 */
export const STDIN_CONTENT_TYPE = 'application/vnd.skiff.exec-stdin';
export const EXEC_HEADER = 'x-skiff-exec';
