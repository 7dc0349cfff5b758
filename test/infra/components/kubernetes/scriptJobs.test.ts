// The script Jobs and the scale Jobs on plain inputs: admitted by the NetworkPolicy, the rotation reads the Secret the
// component writes after it, certificates and ACL login only when those exist, schema-valid.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Job } from "kubernetes-models/batch/v1/Job";
import { bootstrapJobArgs, rotateJobArgs } from "../../../../infra/components/kubernetes/scriptJobs";
import { scaleJobArgs } from "../../../../infra/components/kubernetes/scaleJob";
import { networkPolicyArgs } from "../../../../infra/components/kubernetes/podPolicies";
import { previousAdminSecret } from "../../../../infra/components/kubernetes/secrets";
import { prodContext, plainRefs } from "./fixtures";

const cx = prodContext();
const env = (c: any) => Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));

test("every Job's pod carries the label the NetworkPolicy admits to the Redis port", () => {
  const clientRule = (networkPolicyArgs(cx) as any).spec.ingress[1];
  const admitted = clientRule.from[0].podSelector.matchLabels;
  assert.deepEqual(clientRule.ports, [{ protocol: "TCP", port: 6379 }]);
  const refs = plainRefs({ tls: true, acl: true });
  const podLabels = [
    (bootstrapJobArgs(cx, refs) as any).spec.template.metadata.labels,
    (rotateJobArgs(cx, refs, "add") as any).spec.template.metadata.labels,
    scaleJobArgs(cx, refs).labels,
  ];
  for (const labels of podLabels) for (const [k, v] of Object.entries(admitted)) assert.equal(labels[k], v, k);
});

test("rotation: mounts (optionally) the previous admin password the component writes after `remove`", () => {
  const job = rotateJobArgs(cx, plainRefs({ tls: true, acl: true }), "remove") as any;
  const pod = job.spec.template.spec;
  assert.deepEqual(pod.containers[0].command.slice(-1), ["remove"]);
  const previous = pod.volumes.find((v: any) => v.name === "acl-previous").secret;
  assert.equal(previous.optional, true, "absent on the first deploy");
  assert.equal(previous.secretName, (previousAdminSecret(cx.meta, cx.spec.name, "pw") as any).metadata.name);
  assert.ok(pod.volumes.some((v: any) => v.name === "acl"));
  new Job({ apiVersion: "batch/v1", kind: "Job", ...job }).validate();
});

test("bootstrap: certificate and admin login only when TLS and ACL users exist", () => {
  const on = (bootstrapJobArgs(cx, plainRefs({ tls: true, acl: true })) as any).spec.template.spec;
  const off = (bootstrapJobArgs(cx, plainRefs({ tls: false, acl: false })) as any).spec.template.spec;
  assert.equal(env(on.containers[0]).REDIS_USER, "admin");
  assert.ok(Object.keys(env(on.containers[0])).some((n) => n.startsWith("REDIS_TLS_")));
  assert.ok(on.volumes.some((v: any) => v.secret?.secretName === "tls-client-1"));
  assert.equal(env(off.containers[0]).REDIS_USER, undefined);
  assert.ok(!Object.keys(env(off.containers[0])).some((n) => n.startsWith("REDIS_TLS_")));
  assert.ok(!off.volumes.some((v: any) => v.name === "tls-client"));
  // The pods' files and the Jobs' scripts in one directory.
  assert.deepEqual(on.volumes[0].projected.sources.map((s: any) => s.configMap.name), ["config-1", "bootstrap-1"]);
  for (const pod of [on, off]) new Job({ metadata: { name: "b" }, spec: { template: { spec: pod } } }).validate();
});

test("scale Jobs: the chain is checked, not the name (pod IPs); admin login with ACL users", () => {
  const k = scaleJobArgs(cx, plainRefs({ tls: true, acl: true }));
  assert.deepEqual(Object.fromEntries(k.env!.map((e: any) => [e.name, e.value])).REDIS_TLS_VERIFY_HOSTNAME, "no");
  assert.equal(k.secretName, "auth-1");
  assert.deepEqual(k.volumes!.map((v: any) => v.secret.secretName), ["tls-client-1"]);
  assert.deepEqual(scaleJobArgs(cx, plainRefs({ tls: false, acl: false })).env, []);
});
