// The StatefulSet on plain inputs, for each combination of TLS and ACL users: schema-valid, every mount backed by a
// volume, certificate and ACL volumes exactly when those Secrets exist.
import { test } from "node:test";
import assert from "node:assert/strict";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { statefulSetArgs } from "../../../../infra/components/kubernetes/statefulSet";
import { prodContext, plainRefs } from "./fixtures";

const cx = prodContext();

for (const tls of [false, true]) {
  for (const acl of [false, true]) {
    test(`tls ${tls}, acl ${acl}: mounts backed by volumes, schema-valid`, () => {
      const sts = statefulSetArgs(cx, plainRefs({ tls, acl }), "c".repeat(64)) as any;
      new StatefulSet({ apiVersion: "apps/v1", kind: "StatefulSet", ...sts }).validate();
      const pod = sts.spec.template.spec;
      const volumes = new Set([...pod.volumes.map((v: any) => v.name), ...sts.spec.volumeClaimTemplates.map((v: any) => v.metadata.name)]);
      for (const c of pod.containers) for (const m of c.volumeMounts ?? []) assert.ok(volumes.has(m.name), `${c.name}: ${m.name} has a volume`);
      assert.equal(volumes.has("tls"), tls);
      assert.equal(volumes.has("acl"), acl);
      assert.equal(sts.spec.serviceName, "headless");
      assert.equal(sts.spec.template.metadata.annotations["redis-cluster/config-checksum"], "c".repeat(64));
      const exporter = pod.containers.find((c: any) => c.name === "redis-exporter");
      assert.equal(exporter.env.find((e: any) => e.name === "REDIS_PASSWORD").valueFrom.secretKeyRef.name, acl ? "user-exporter-1" : "auth-1");
    });
  }
}
