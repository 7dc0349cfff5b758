// auth: with a password configured, every node refuses an unauthenticated connection with NOAUTH.
import { errorText } from "../clients";
import type { SmokeContext } from "../context";
import { CheckFailure, type Measurements } from "../types";

export async function checkAuth(ctx: SmokeContext): Promise<{ details: string; measurements: Measurements; notApplicable?: boolean }> {
  if (!ctx.opts.password) {
    return { details: "no password given (--password-env): not checked", measurements: {}, notApplicable: true };
  }
  let refused = 0;
  const problems = await ctx.eachNodeUnauthenticated("not checked", async (r, label) => {
    const found: string[] = [];
    try {
      const reply = await r.call("GET", `smoke:${ctx.runId}:auth-probe`);
      found.push(`node ${label} answered an unauthenticated GET (${JSON.stringify(reply)}): requirepass is not set`);
    } catch (e) {
      const msg = errorText(e);
      if (/^NOAUTH/.test(msg)) refused++;
      else found.push(`node ${label}: unauthenticated GET failed with "${msg}" instead of NOAUTH`);
    }
    return found;
  });
  const m = { nodes: ctx.nodes.length, refused_noauth: refused };
  if (problems.length) throw new CheckFailure(problems, m);
  return { details: `${refused} of ${ctx.nodes.length} nodes refuse unauthenticated commands with NOAUTH`, measurements: m };
}
