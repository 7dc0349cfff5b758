// The bundled-Node-Job builder on plain inputs: the bundle mounted where `node` runs it, re-run and replace
// annotations, group access only when there are extra volumes, schema-valid Job and ConfigMap, and a bundle over
// Kubernetes' ConfigMap limit refused before its ConfigMap is declared.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Job } from "kubernetes-models/batch/v1/Job";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { CONFIGMAP_MAX_BYTES, bundleConfigMapArgs, nodeJobArgs, type NodeJobArgs } from "../../../../infra/components/kubernetes/nodeJob";

const args = (extra: Partial<NodeJobArgs> = {}): NodeJobArgs => ({
  namespace: "redis",
  labels: { "app.kubernetes.io/component": "step", "redis-cluster-client": "true" },
  bundle: { file: "step.js", dir: "/opt/step", text: "console.log(1)", sha256: "b".repeat(64) },
  definitionHash: "d".repeat(64),
  container: { name: "step", args: ["--x", "1"], env: [{ name: "A", value: "1" }] },
  backoffLimit: 1,
  activeDeadlineSeconds: 600,
  ...extra,
});

test("the Job runs the bundle from its ConfigMap, re-runs on a new definition, and a failed one is replaced", () => {
  const cm = bundleConfigMapArgs(args()) as any;
  assert.deepEqual(cm.data, { "step.js": "console.log(1)" });
  assert.equal(cm.metadata.annotations["redis-cluster/bundle-sha256"], "b".repeat(64));
  new ConfigMap({ apiVersion: "v1", kind: "ConfigMap", ...cm }).validate();

  const job = nodeJobArgs(args(), "step-bundle-abc") as any;
  const pod = job.spec.template.spec;
  const [c] = pod.containers;
  assert.deepEqual(c.command, ["node", "/opt/step/step.js"]);
  assert.deepEqual(c.args, ["--x", "1"]);
  assert.deepEqual(c.volumeMounts[0], { name: "bundle", mountPath: "/opt/step", readOnly: true });
  assert.deepEqual(pod.volumes[0], { name: "bundle", configMap: { name: "step-bundle-abc" } });
  assert.equal(c.image, "node:20-alpine");
  assert.equal(job.metadata.annotations["pulumi.com/replaceUnready"], "true");
  assert.equal(job.metadata.annotations["redis-cluster/definition-sha256"], "d".repeat(64));
  assert.equal(job.spec.template.metadata.annotations["redis-cluster/definition-sha256"], "d".repeat(64), "a new definition is a new pod template");
  assert.equal(job.spec.template.metadata.labels["redis-cluster-client"], "true");
  assert.deepEqual([job.spec.backoffLimit, job.spec.activeDeadlineSeconds], [1, 600]);
  assert.equal(pod.restartPolicy, "Never");
  assert.equal(pod.automountServiceAccountToken, false);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  new Job({ apiVersion: "batch/v1", kind: "Job", ...job }).validate();
});

test("extra volumes (a TLS key, mode 0440) come with fsGroup; none, no fsGroup", () => {
  assert.equal((nodeJobArgs(args(), "cm") as any).spec.template.spec.securityContext.fsGroup, undefined);
  const withTls = nodeJobArgs(
    args({
      volumes: [{ name: "tls-client", secret: { secretName: "tls", defaultMode: 0o440 } }],
      container: { name: "step", args: [], env: [], volumeMounts: [{ name: "tls-client", mountPath: "/tls", readOnly: true }] },
      image: "node:22-alpine",
    }),
    "cm",
  ) as any;
  const pod = withTls.spec.template.spec;
  assert.equal(pod.securityContext.fsGroup, 1000);
  assert.deepEqual(pod.volumes.map((v: any) => v.name), ["bundle", "tls-client"]);
  assert.deepEqual(pod.containers[0].volumeMounts.map((m: any) => m.name), ["bundle", "tls-client"]);
  assert.equal(pod.containers[0].image, "node:22-alpine");
  new Job({ apiVersion: "batch/v1", kind: "Job", ...withTls }).validate();
});

test("a bundle over Kubernetes' 1 MiB ConfigMap limit is refused, naming it, its size, the limit and the fix", () => {
  const bundle = (text: string) => args({ bundle: { file: "backup.js", dir: "/opt/backup", text, sha256: "b".repeat(64) } });
  assert.equal(CONFIGMAP_MAX_BYTES, 1048576);
  assert.doesNotThrow(() => bundleConfigMapArgs(bundle("x".repeat(CONFIGMAP_MAX_BYTES))), "exactly at the limit fits");
  assert.throws(
    () => bundleConfigMapArgs(bundle("x".repeat(1_100_000))),
    (e: Error) => {
      assert.match(e.message, /^the backup bundle \(backup\.js\) is 1,100,000 bytes, over Kubernetes' 1 MiB ConfigMap limit \(1048576 bytes\)/);
      assert.match(e.message, /make the bundle smaller/i);
      return true;
    },
  );
  // Bytes, not characters: the API server counts the UTF-8 encoding.
  assert.throws(() => bundleConfigMapArgs(bundle("é".repeat(CONFIGMAP_MAX_BYTES / 2 + 1))), /is 1,048,578 bytes/);
});
