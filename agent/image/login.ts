// Logging in to a registry: the credentials are checked against the registry's token
// or basic auth before anything keeps them.
import { SkiffError } from '../../lib/index.js';
import { storeCredentials } from './auth.js';
import { parseReference } from './reference.js';
import { RegistryClient, type RegistryOptions } from './registry-client.js';

/** Checks the credentials against the registry; returns the registry's canonical host. */
export async function verifyLogin(
  registries: RegistryOptions | undefined,
  registry: string,
  username: string,
  password: string,
): Promise<string> {
  if (!username) throw new SkiffError('invalid_argument', 'login needs a user name');
  const ref = parseReference(`${registry}/skiff-login-check`);
  const probe = new RegistryClient({
    ...(registries ? { registries } : {}),
    credentials: async () => ({ username, password }),
  });
  try {
    await probe.verifyLogin(ref.registry);
  } finally {
    await probe.close();
  }
  return ref.registry;
}

/** Checks the credentials, then stores them in the auth file (docker's config.json format). */
export async function login(
  registries: RegistryOptions | undefined,
  authFile: string,
  registry: string,
  username: string,
  password: string,
): Promise<void> {
  const host = await verifyLogin(registries, registry, username, password);
  await storeCredentials(authFile, host, { username, password });
}
