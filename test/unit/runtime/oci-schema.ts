// The runtime spec's own JSON schema, read from the shared reference (never copied).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';

const SCHEMA_DIR = join(import.meta.dirname, '../../../../shared/reference/oci-runtime-spec/schema');

function loadSchema(file: string): Record<string, unknown> {
  const s = JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')) as Record<string, unknown>;
  // Draft-04 by declaration, but nothing in it differs from what Ajv's default draft reads.
  delete s.$schema;
  return s;
}

/** A validator of config.json against the OCI runtime spec's schema. */
export function validator() {
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addSchema(loadSchema('defs.json'), 'defs.json');
  ajv.addSchema(loadSchema('defs-linux.json'), 'defs-linux.json');
  ajv.addSchema(loadSchema('config-linux.json'), 'config-linux.json');
  for (const os of ['solaris', 'windows', 'vm', 'zos', 'freebsd'])
    ajv.addSchema({ [os]: {} }, `config-${os}.json`);
  return ajv.compile(loadSchema('config-schema.json'));
}
