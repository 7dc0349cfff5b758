// old-passwords: at the end of a password rotation, every password the rotation retired is refused by every node
// (issue #12: rotate.sh `remove` must have left only the new ones). The retired passwords come from the deployment
// (REDIS_RETIRED_PASSWORDS, a secret: JSON {user: [password, ...]}); without a rotation there are none and the check
// reports that it did not run, never that it passed.
import { errorText } from "../clients";
import type { SmokeContext } from "../context";
import { CheckFailure, type Measurements } from "../types";

export async function checkOldPasswords(ctx: SmokeContext): Promise<{ details: string; measurements: Measurements; notApplicable?: boolean }> {
  const retired = Object.entries(ctx.opts.retiredPasswords ?? {}).flatMap(([user, pws]) => pws.map((pw) => ({ user, pw })));
  if (retired.length === 0) {
    return { details: "not run: no rotation recorded (no retired password given)", measurements: {}, notApplicable: true };
  }
  let refused = 0;
  // Unauthenticated connection, then AUTH with each retired password: the reply is the node's verdict.
  const problems = await ctx.eachNodeUnauthenticated("retired passwords not checked there", async (r, label) => {
    const found: string[] = [];
    for (const { user, pw } of retired) {
      try {
        await r.call("AUTH", user, pw);
        found.push(`node ${label} accepted the retired password of user ${user}: the rotation's remove step has not run there`);
      } catch (e) {
        const msg = errorText(e);
        if (/^WRONGPASS/.test(msg)) refused++;
        else found.push(`node ${label}: AUTH ${user} <retired> failed with "${msg}" instead of WRONGPASS`);
      }
    }
    return found;
  });
  const users = [...new Set(retired.map((x) => x.user))].sort();
  const m = { nodes: ctx.nodes.length, retired_passwords: retired.length, refused_wrongpass: refused };
  if (problems.length) throw new CheckFailure(problems, m);
  return { details: `${retired.length} retired password(s) of ${users.join(", ")} refused with WRONGPASS on ${ctx.nodes.length - ctx.down.size} of ${ctx.nodes.length} nodes`, measurements: m };
}
