// What the pods runner does with each pod-spec and StatefulSet field the prod program sets: a value it does not
// emulate is refused with the field's name (issue 22); the values it does emulate pass.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkPodSpec } from "../../../testbed/pods/spec";
import { checkServiceTargets, checkStatefulSetSpec } from "../../../testbed/pods/statefulSet";
import { checkJob } from "../../../testbed/pods/job";
import { randomPassword } from "../../../testbed/pods/resources/generated";
import { passwordAlphabet, RANDOM_SPECIAL } from "../../../testbed/randomPassword";

const labels = { app: "r", role: "node" };
const pod = (extra: Record<string, unknown> = {}, container: Record<string, unknown> = {}) => ({
  containers: [{ name: "c", image: "redis:7.2.5", ...container }],
  restartPolicy: "Always",
  automountServiceAccountToken: false,
  enableServiceLinks: false,
  ...extra,
});
const sts = (spec: Record<string, unknown> = {}, podSpec: Record<string, unknown> = pod()) => ({
  serviceName: "h",
  replicas: 6,
  podManagementPolicy: "Parallel",
  updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 0 } },
  persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
  selector: { matchLabels: { app: "r" } },
  template: { metadata: { labels }, spec: podSpec },
  volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }],
  ...spec,
});
const spread = (t: Record<string, unknown>) => pod({ topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: { app: "r" } }, ...t }] });

test("the prod program's values pass", () => {
  assert.doesNotThrow(() => checkStatefulSetSpec("s", sts({}, { ...spread({}), serviceAccountName: "sa", securityContext: { fsGroup: 999, fsGroupChangePolicy: "OnRootMismatch" } })));
  assert.doesNotThrow(() => checkStatefulSetSpec("s", sts({ updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 0, maxUnavailable: 1 } } })));
  assert.doesNotThrow(() => checkPodSpec(pod({}, { resources: { requests: { memory: "64Mi", cpu: "100m" }, limits: { memory: "128Mi" } } }), "p", "statefulset", 6));
});

test("rollingUpdate.maxUnavailable other than 1 is refused by name", () => {
  for (const v of [2, "25%"]) {
    assert.throws(() => checkStatefulSetSpec("s", sts({ updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: v } } })), /rollingUpdate\.maxUnavailable .*only 1 is implemented/);
  }
  assert.throws(() => checkStatefulSetSpec("s", sts({ updateStrategy: { type: "RollingUpdate", rollingUpdate: { surge: 1 } } })), /rollingUpdate sets 'surge'/);
});

test("persistentVolumeClaimRetentionPolicy Delete is refused by name (the runner never deletes a claim)", () => {
  assert.throws(() => checkStatefulSetSpec("s", sts({ persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Retain" } })), /persistentVolumeClaimRetentionPolicy\.whenDeleted Delete/);
  assert.throws(() => checkStatefulSetSpec("s", sts({ persistentVolumeClaimRetentionPolicy: { whenScaled: "Delete" } })), /persistentVolumeClaimRetentionPolicy\.whenScaled Delete/);
});

test("topologySpreadConstraints: each field checked, the selector must select the pods", () => {
  const check = (p: Record<string, unknown>) => () => checkPodSpec(p, "p", "statefulset", 6, labels);
  assert.doesNotThrow(check(spread({})));
  assert.throws(check(spread({ whenUnsatisfiable: "DoNotSchedule" })), /whenUnsatisfiable DoNotSchedule/);
  assert.throws(check(spread({ maxSkew: 0 })), /maxSkew 0/);
  assert.throws(check(spread({ topologyKey: "" })), /topologyKey must be set/);
  assert.throws(check(spread({ labelSelector: { matchLabels: { app: "other" } } })), /labelSelector .* does not select the pod's labels/);
  assert.throws(check(spread({ labelSelector: { matchExpressions: [] } })), /labelSelector sets 'matchExpressions'/);
  assert.throws(check(spread({ minDomains: 2 })), /sets 'minDomains'/);
});

test("volume items: unknown fields, bad modes and paths refused by name", () => {
  const vol = (item: Record<string, unknown>) => pod({ volumes: [{ name: "s", secret: { secretName: "x", items: [{ key: "k", path: "k", ...item }] } }] });
  assert.doesNotThrow(() => checkPodSpec(vol({ mode: 0o400 }), "p", "statefulset", 6));
  assert.throws(() => checkPodSpec(vol({ mode: 0o1777 }), "p", "statefulset", 6), /items\[0\]\.mode/);
  assert.throws(() => checkPodSpec(vol({ path: "../k" }), "p", "statefulset", 6), /relative path/);
  assert.throws(() => checkPodSpec(vol({ extra: 1 }), "p", "statefulset", 6), /items\[0\] sets 'extra'/);
});

test("cross-field rules: mounts name declared volumes or claims, unique names, selector, probe ports, requests under limits", () => {
  assert.throws(() => checkStatefulSetSpec("s", sts({}, pod({}, { volumeMounts: [{ name: "nope", mountPath: "/x" }] }))), /mounts 'nope', which is neither a volume nor a claim template/);
  assert.doesNotThrow(() => checkStatefulSetSpec("s", sts({}, pod({}, { volumeMounts: [{ name: "data", mountPath: "/data" }] }))));
  assert.throws(() => checkPodSpec(pod({ restartPolicy: "Never" }, { volumeMounts: [{ name: "data", mountPath: "/data" }] }), "j", "job", 1), /mounts 'data'/);
  assert.throws(() => checkPodSpec(pod({ containers: [{ name: "c", image: "x" }, { name: "c", image: "y" }] }), "p", "statefulset", 6), /container name 'c' used twice/);
  assert.throws(() => checkPodSpec(pod({}, { ports: [{ name: "redis", containerPort: 1 }, { name: "redis", containerPort: 2 }] }), "p", "statefulset", 6), /port name 'redis' used twice/);
  assert.throws(() => checkPodSpec(pod({ volumes: [{ name: "v", emptyDir: {} }, { name: "v", emptyDir: {} }] }), "p", "statefulset", 6), /'v' declared twice/);
  assert.throws(() => checkStatefulSetSpec("s", sts({ selector: { matchLabels: { app: "x" } } })), /selector .* does not select the template's labels/);
  assert.throws(() => checkStatefulSetSpec("s", sts({ selector: { matchLabels: { app: "r" }, matchExpressions: [] } })), /selector sets 'matchExpressions'/);
  assert.throws(
    () => checkPodSpec(pod({}, { ports: [{ name: "http", containerPort: 80 }], readinessProbe: { httpGet: { path: "/", port: "metrics" } } }), "p", "statefulset", 6),
    /httpGet\.port 'metrics' is not a port of the container/,
  );
  assert.throws(() => checkPodSpec(pod({}, { resources: { requests: { memory: "2Gi" }, limits: { memory: "1Gi" } } }), "p", "statefulset", 6), /requests\.memory 2Gi above limits\.memory 1Gi/);
  assert.throws(() => checkJob({ metadata: { name: "j" }, spec: { template: { metadata: { labels, generateName: "x" }, spec: pod({ restartPolicy: "Never" }) } } }), /template\.metadata sets 'generateName'/);
});

test("RandomPassword: special (default true) uses the random provider's specials; false letters and digits", () => {
  assert.equal(passwordAlphabet({ special: false }).length, 62);
  assert.ok(passwordAlphabet({}).endsWith(RANDOM_SPECIAL));
  const make = (inputs: Record<string, unknown>) =>
    (randomPassword.create({ step: { name: "pw", inputs } as any, inputs, id: "pw", key: () => "" }, undefined as any) as unknown as { outputs: { result: string } }).outputs.result;
  const plain = make({ length: 400, special: false });
  assert.match(plain, /^[A-Za-z0-9]{400}$/);
  const special = make({ length: 400 });
  assert.equal(special.length, 400);
  assert.match(special, /[!@#$%&*()\-_=+[\]{}<>:?]/, "400 characters from 83 include a special one");
  assert.throws(() => make({ length: 0 }), /length 0/);
  assert.throws(() => make({ length: 8, overrideSpecial: "!" }), /sets 'overrideSpecial'/);
});

test("a Service selecting the pods must name a targetPort their containers declare", () => {
  const set = { metadata: { name: "s" }, spec: sts({}, pod({}, { ports: [{ name: "redis", containerPort: 6379 }] })) };
  const svc = (targetPort: unknown, selector: Record<string, string> = { app: "r" }) => ({ metadata: { name: "h" }, spec: { selector, ports: [{ name: "redis", port: 6379, targetPort }] } });
  assert.doesNotThrow(() => checkServiceTargets(set, [svc("redis"), svc(6379), svc("nope", { app: "other" })]));
  assert.throws(() => checkServiceTargets(set, [svc("bus")]), /Service h port redis: targetPort 'bus' is no container port/);
});
