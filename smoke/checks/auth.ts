// auth: with a password configured, every node refuses an unauthenticated connection with NOAUTH.
import { errorText } from "../clients";
import type { SmokeContext } from "../context";
import { CheckFailure, type Measurements } from "../types";

export async function checkAuth(ctx: SmokeContext): Promise<{ details: string; measurements: Measurements; notApplicable?: boolean }> {
  if (!ctx.opts.password) {
    return { details: "no password given (--password-env): not checked", measurements: {}, notApplicable: true };
  }
  const problems: string[] = [];
  let refused = 0;
  await Promise.all(
    ctx.nodes.map(async (addr) => {
      const label = ctx.label(addr);
      if (ctx.down.has(addr)) {
        problems.push(`node ${label} is unreachable (see the connect check): not checked`);
        return;
      }
      try {
        const r = await ctx.pool.dedicated(addr, { password: null });
        try {
          const reply = await r.call("GET", `smoke:${ctx.runId}:auth-probe`);
          problems.push(`node ${label} answered an unauthenticated GET (${JSON.stringify(reply)}): requirepass is not set`);
        } catch (e) {
          const msg = errorText(e);
          if (/^NOAUTH/.test(msg)) refused++;
          else problems.push(`node ${label}: unauthenticated GET failed with "${msg}" instead of NOAUTH`);
        } finally {
          r.disconnect();
        }
      } catch (e) {
        problems.push(`node ${label}: could not open an unauthenticated connection: ${errorText(e)}`);
      }
    }),
  );
  const m = { nodes: ctx.nodes.length, refused_noauth: refused };
  if (problems.length) throw new CheckFailure(problems, m);
  return { details: `${refused} of ${ctx.nodes.length} nodes refuse unauthenticated commands with NOAUTH`, measurements: m };
}
