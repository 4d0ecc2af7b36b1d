/**
 * A value made at its first use, then kept: for what costs at a process's start and many
 * runs never need (zod schemas cost ~0.1 ms each to build, and a node's start built hundreds
 * it does not use until a request brings a body).
 */
export function lazy<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => {
    made ??= { value: make() };
    return made.value;
  };
}
