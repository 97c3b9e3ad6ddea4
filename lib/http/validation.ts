import type { z } from 'zod';
import type { FieldError } from '../errors.js';

/** zod issues as API.md's `errors: [{path, message}]`, with dotted paths (`owner.email`, `lines.0`). */
export function zodFieldErrors(error: z.ZodError, prefix = ''): FieldError[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return {
      path: prefix && path ? `${prefix}.${path}` : prefix || path,
      message: issue.message,
      code: issue.code,
    };
  });
}
