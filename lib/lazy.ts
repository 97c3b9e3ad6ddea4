/**
 * A value built on first use and kept: module-level zod schemas that only some requests need are
 * declared `lazy(() => z.object(…))` and read as `schema()`, so importing a function builds none of
 * them (docs/decisions/0034). One instance per schema, so `.meta({ id })` registers each id once.
 */
export function lazy<T>(build: () => T): () => T {
  let built: { readonly value: T } | undefined;
  return () => {
    built ??= { value: build() };
    return built.value;
  };
}
