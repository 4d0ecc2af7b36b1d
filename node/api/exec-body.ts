// The exec request body as the route checks it, at the edge.
import { z } from 'zod';
import type { ExecBody } from '../../lib/index.js';

export const ExecBodySchema = z
  .object({
    Cmd: z.array(z.string()).min(1, 'exec needs a command'),
    Env: z.array(z.string().regex(/^[^=]+=/, 'an environment entry is NAME=value')).optional(),
    WorkingDir: z.string().optional(),
    User: z.string().optional(),
    Tty: z.boolean().optional(),
    Detach: z.boolean().optional(),
    Stdin: z.string().base64().optional(),
  })
  .strict() satisfies z.ZodType<ExecBody>;
