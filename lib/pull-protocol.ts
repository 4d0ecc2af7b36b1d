// Docker's image pull progress messages: the JSON lines `POST /images/create` answers
// with (the node's pull route writes them, the CLI and `docker pull` read them).

export interface PullMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message: string };
}
