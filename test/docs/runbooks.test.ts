// docs/runbooks.md is the target of every alert's runbook_url: each alert needs its heading,
// and every link the rules render (and every in-page link) must land on an existing heading.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ALERT_NAMES, renderAlertRules } from "../../monitoring/rules";
import { githubAnchors } from "./markdown";

const DOC = readFileSync(resolve(__dirname, "../../docs/runbooks.md"), "utf8");

const anchors = githubAnchors(DOC);
const h2 = DOC.split("\n").filter((l) => l.startsWith("## ")).map((l) => l.slice(3).trim());

describe("runbooks.md", () => {
  it("has a '## <AlertName>' section for every ALERT_NAMES entry", () => {
    const missing = ALERT_NAMES.filter((a) => !h2.includes(a));
    assert.deepEqual(missing, [], `add sections: ${missing.map((a) => `## ${a}`).join(", ")}`);
  });

  it("every runbook_url rendered by renderAlertRules resolves to a heading of docs/runbooks.md", () => {
    for (const topology of [
      { masters: 3, replicasPerMaster: 1 },
      { masters: 5, replicasPerMaster: 2 },
      { masters: 3, replicasPerMaster: 0 },
    ]) {
      const rules = renderAlertRules(topology).groups.flatMap((g) => g.rules);
      assert.ok(rules.length > 0);
      for (const r of rules) {
        const url = new URL(r.annotations.runbook_url);
        assert.match(url.pathname, /\/docs\/runbooks\.md$/, r.annotations.runbook_url);
        const anchor = url.hash.slice(1);
        assert.ok(anchors.has(anchor), `${r.alert}: #${anchor} is not a heading of docs/runbooks.md`);
      }
    }
  });

  it("covers the operational runbooks", () => {
    for (const h of [
      "Deploy a new environment",
      "Verify with the smoke test",
      "Failover drill",
      "A node lost",
      "Full restart",
      "Scale out",
      "Rotate the password",
      "Tear down dev",
      "Restore from AOF / volume snapshot",
    ]) {
      assert.ok(h2.includes(h), `missing section: ## ${h}`);
    }
  });

  it("every in-page link points at an existing heading", () => {
    const links = [...DOC.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1] as string);
    assert.ok(links.length > 0);
    const broken = links.filter((l) => !anchors.has(l));
    assert.deepEqual(broken, []);
  });

  it("mentions destructive commands only in the warning against them, and in the in-place restore's by-hand step", () => {
    // The in-place restore empties the cluster by hand (the restore refuses a non-empty one): its own section.
    const [rest, inPlace] = DOC.split(/\n## Restore in place from a backup\n/);
    const tail = inPlace?.split(/\n## /).slice(1).join("\n## ") ?? "";
    const paragraphs = `${rest}\n\n${tail}`.split(/\n\s*\n/);
    const destructive = paragraphs.filter((p) => /CLUSTER RESET|FLUSHALL|FLUSHDB/i.test(p));
    assert.equal(destructive.length, 1, destructive.join("\n---\n"));
    assert.match(destructive[0] as string, /^\*\*Never\*\*/);
    assert.match(inPlace ?? "", /a deliberate human step[^]*flushall/i);
  });
});
