// The objects the pods runner stores without running them are checked as the API server checks them: the schema's
// types and required fields, the fields the runner implements (others refused by name), the cross-field rules.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkStored } from "../../../../testbed/pods/resources/validate";

const metadata = { name: "x", namespace: "redis", labels: { app: "r" } };
const sel = { app: "r" };
const ok: Record<string, Record<string, any>> = {
  ConfigMap: { apiVersion: "v1", kind: "ConfigMap", metadata, data: { "redis.conf": "port 6379\n" } },
  Secret: { apiVersion: "v1", kind: "Secret", metadata, type: "Opaque", stringData: { password: "p" } },
  Service: {
    apiVersion: "v1", kind: "Service", metadata,
    spec: { clusterIP: "None", publishNotReadyAddresses: true, selector: sel, ports: [{ name: "redis", port: 6379, targetPort: "redis", protocol: "TCP" }, { name: "bus", port: 16379, targetPort: "bus" }] },
  },
  PodDisruptionBudget: { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata, spec: { maxUnavailable: 1, selector: { matchLabels: sel } } },
  NetworkPolicy: {
    apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata,
    spec: { podSelector: { matchLabels: sel }, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: { matchLabels: sel } }], ports: [{ protocol: "TCP", port: 6379 }] }] },
  },
  Namespace: { apiVersion: "v1", kind: "Namespace", metadata: { name: "redis", labels: { "pod-security.kubernetes.io/enforce": "restricted" } } },
  ServiceAccount: { apiVersion: "v1", kind: "ServiceAccount", metadata, automountServiceAccountToken: false },
};
const with_ = (kind: string, patch: Record<string, any>) => ({ ...ok[kind], ...patch });
const spec = (kind: string, patch: Record<string, any>) => ({ ...ok[kind], spec: { ...ok[kind].spec, ...patch } });
const refused = (kind: string, o: Record<string, any>, re: RegExp) => assert.throws(() => checkStored(kind, o, `${kind} redis/x`), re);

test("the objects as the prod program writes them pass", () => {
  for (const [kind, o] of Object.entries(ok)) assert.doesNotThrow(() => checkStored(kind, o, `${kind} redis/x`), kind);
  assert.doesNotThrow(() => checkStored("Secret", with_("Secret", { type: "kubernetes.io/tls", stringData: { "tls.crt": "c", "tls.key": "k", "ca.crt": "a" } }), "Secret t"));
});

test("schema types: a wrong type is refused with its path", () => {
  refused("Secret", with_("Secret", { stringData: { password: 1 } }), /stringData\/password must be string/);
  refused("Service", spec("Service", { ports: [{ name: "redis", port: "6379" }] }), /ports\/0\/port must be integer/);
  refused("ServiceAccount", with_("ServiceAccount", { automountServiceAccountToken: "no" }), /automountServiceAccountToken must be boolean/);
});

test("fields the runner does not implement are refused by name", () => {
  refused("ConfigMap", with_("ConfigMap", { binaryData: { a: "AA==" } }), /sets 'binaryData'/);
  refused("ConfigMap", with_("ConfigMap", { immutable: true }), /sets 'immutable'/);
  refused("Secret", with_("Secret", { immutable: true }), /sets 'immutable'/);
  refused("Service", spec("Service", { sessionAffinity: "ClientIP" }), /spec sets 'sessionAffinity'/);
  refused("Service", spec("Service", { type: "NodePort" }), /spec\.type NodePort/);
  refused("Service", spec("Service", { clusterIP: "10.0.0.1" }), /spec\.clusterIP 10\.0\.0\.1/);
  refused("Service", spec("Service", { ports: [{ name: "redis", port: 6379, nodePort: 30000 }] }), /port redis sets 'nodePort'/);
  refused("PodDisruptionBudget", spec("PodDisruptionBudget", { unhealthyPodEvictionPolicy: "AlwaysAllow" }), /sets 'unhealthyPodEvictionPolicy'/);
  refused("NetworkPolicy", spec("NetworkPolicy", { podSelector: { matchExpressions: [{ key: "a", operator: "Exists" }] } }), /podSelector sets 'matchExpressions'/);
  refused("Namespace", with_("Namespace", { spec: { finalizers: ["kubernetes"] } }), /sets 'spec'/);
  refused("ServiceAccount", with_("ServiceAccount", { imagePullSecrets: [{ name: "r" }] }), /sets 'imagePullSecrets'/);
  refused("ServiceAccount", with_("ServiceAccount", { metadata: { ...metadata, finalizers: ["x"] } }), /metadata sets 'finalizers'/);
});

test("cross-field rules", () => {
  refused("Secret", with_("Secret", { type: "kubernetes.io/tls", stringData: { "tls.crt": "c" } }), /type kubernetes\.io\/tls needs key tls\.key/);
  refused("Secret", with_("Secret", { type: "kubernetes.io/basic-auth" }), /type kubernetes\.io\/basic-auth/);
  refused("Service", spec("Service", { ports: [{ name: "redis", port: 6379 }, { name: "redis", port: 16379 }] }), /port names must be set and unique/);
  refused("Service", spec("Service", { ports: [{ port: 6379 }, { name: "bus", port: 16379 }] }), /port names must be set and unique/);
  refused("Service", spec("Service", { selector: undefined }), /spec\.selector/);
  refused("PodDisruptionBudget", spec("PodDisruptionBudget", { minAvailable: 5 }), /spec\.minAvailable and spec\.maxUnavailable both set/);
  refused("PodDisruptionBudget", spec("PodDisruptionBudget", { maxUnavailable: undefined }), /neither spec\.minAvailable nor spec\.maxUnavailable/);
  refused("PodDisruptionBudget", spec("PodDisruptionBudget", { selector: { matchLabels: {} } }), /an empty selector/);
});

test("a ConfigMap or a Secret whose values exceed 1 MiB is refused as the API server refuses it; keys do not count", () => {
  const MiB = 1024 * 1024;
  const configMap = (data: Record<string, string>) => with_("ConfigMap", { data });
  // Values of exactly 1 MiB, keys beside.
  assert.doesNotThrow(() => checkStored("ConfigMap", configMap({ "a.js": "x".repeat(MiB - 1), b: "y" }), "ConfigMap at the limit"));
  refused("ConfigMap", configMap({ "a.js": "x".repeat(MiB), b: "y" }), /\[\]: Too long: must have at most 1048576 bytes \(its values hold 1048577\).*the API server refuses it/);
  // UTF-8 bytes, not characters.
  refused("ConfigMap", configMap({ "a.js": "é".repeat(MiB / 2 + 1) }), /Too long: must have at most 1048576 bytes/);

  const secret = (o: Record<string, any>) => with_("Secret", { stringData: undefined, ...o });
  // data is base64 on the wire: its decoded bytes count.
  const b64 = (n: number) => Buffer.alloc(n, 1).toString("base64");
  assert.doesNotThrow(() => checkStored("Secret", secret({ data: { a: b64(MiB) } }), "Secret at the limit"));
  refused("Secret", secret({ data: { a: b64(MiB), b: b64(1) } }), /data: Too long: must have at most 1048576 bytes/);
  refused("Secret", secret({ data: { a: b64(MiB) }, stringData: { b: "z" } }), /data: Too long/);
  // A stringData value replaces the data value of its key.
  assert.doesNotThrow(() => checkStored("Secret", secret({ data: { a: b64(MiB) }, stringData: { a: "short" } }), "Secret with a replaced key"));
});

test("a kind without checks is refused, not stored blind", () => {
  refused("LimitRange", { apiVersion: "v1", kind: "LimitRange", metadata }, /kind LimitRange has no checks/);
});
