// How a backup or a restore ends when it throws: a refusal (exit 2: checked before anything changed) or a failure (exit 3).

/** The CLI's exit codes (infra/backup/cli.ts): a usage error and a refusal are final, a failure may be run again. */
export const EXIT_CODES = { usage: 1, refused: 2, failed: 3 } as const;

export function thrownOutcome(e: unknown, refusals: (abstract new (...a: never[]) => Error)[], log: (l: string) => void): { code: 2 | 3; message: string } {
  const refused = refusals.some((r) => e instanceof r);
  const message = `${refused ? "refused" : "failed"}: ${(e as Error).message}`;
  log(message);
  return { code: refused ? 2 : 3, message };
}
