/** How problems and failures read in the workflow's messages and status. Pure. */

export function problemText(p: { message: string; stage?: string; field?: string }): string {
  return p.message;
}

/** The innermost message of a failure chain (ActivityFailure → ApplicationFailure → ...), with the first type on it. */
export function failureText(err: unknown): string {
  let e = err as { message?: string; cause?: unknown; type?: string | null } | undefined;
  let type: string | undefined;
  while (e) {
    type ??= e.type ?? undefined;
    if (!e.cause) break;
    e = e.cause as typeof e;
  }
  return type ? `${type}: ${e?.message}` : e?.message ?? String(err);
}
