/** Small readers for problem+json bodies (API.md §2). */

/** Field paths of a 422 problem, sorted. */
export function errorPaths(body: { errors?: { path: string }[] }): string[] {
  return (body.errors ?? []).map((error) => error.path).sort();
}

/** A problem body without its per-request id, for comparing two answers. */
export function withoutRequestId(body: Record<string, unknown>): Record<string, unknown> {
  const { request_id: _ignored, ...rest } = body;
  return rest;
}
