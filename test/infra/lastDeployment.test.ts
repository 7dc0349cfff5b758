// How the program names itself for the StackReference that reads its last deployment's outputs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { selfReference } from "../../infra/lastDeployment";

const SELF = { organization: "organization", project: "redis-cluster", stack: "prod" };

test("the fully qualified name by default; lastDeploymentStack only when it names this stack", () => {
  assert.equal(selfReference(undefined, SELF), "organization/redis-cluster/prod");
  // A DIY backend in the legacy layout knows stacks by their bare names.
  assert.equal(selfReference("prod", SELF), "prod");
  assert.equal(selfReference("organization/redis-cluster/prod", SELF), "organization/redis-cluster/prod");
  // Another organization's stack of the same name is another stack (Pulumi Cloud).
  for (const other of ["dev", "organization/redis-cluster/dev", "organization/other/prod", "acme/redis-cluster/prod"]) {
    const r = selfReference(other, SELF);
    assert.ok(typeof r !== "string", other);
    assert.match(r.problem, new RegExp(`^redis-cluster:lastDeploymentStack is "${other}", which is not this stack \\(organization/redis-cluster/prod\\): remove it, or set it to "prod"`));
  }
});
