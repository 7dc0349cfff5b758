// The NetworkPolicy engine's pure half (testbed/pods/networkPolicy.ts): what it refuses by name, and the ingress
// chain it writes for a pod from the policies, namespaces and pods (the real iptables in a pod: network.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkNetworkPolicy, ingressRules } from "../../../testbed/pods/networkPolicy";
import type { NetPod } from "../../../testbed/pods/serviceProxy";

const pod = (name: string, ip: string, labels: Record<string, string>, namespace = "redis"): NetPod => ({
  name, namespace, labels, ip, ready: true, phase: "Running", deleting: false,
  spec: { containers: [{ name: "redis", ports: [{ name: "redis", containerPort: 6379 }, { name: "bus", containerPort: 16379 }] }] },
});
const policy = (spec: object, namespace = "redis") => ({ metadata: { name: "p", namespace }, spec: { podSelector: { matchLabels: { app: "redis" } }, ...spec } });

test("refused by name: Egress, ipBlock except, endPort, UDP, a selector's unknown field or bad expression", () => {
  const cases: [object, RegExp][] = [
    [{ policyTypes: ["Ingress", "Egress"] }, /Egress policies .* are not enforced/],
    [{ egress: [{}] }, /Egress policies/],
    [{ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] } }] }] }, /ingress\[0\]\.from\[0\]\.ipBlock sets 'except'/],
    [{ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/33" } }] }] }, /not a CIDR/],
    [{ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/8" }, podSelector: { matchLabels: { a: "b" } } }] }] }, /may not be combined/],
    [{ ingress: [{ ports: [{ port: 1, endPort: 2 }] }] }, /ingress\[0\]\.ports\[0\].*'endPort'/],
    [{ ingress: [{ ports: [{ protocol: "UDP", port: 53 }] }] }, /protocol UDP: only TCP is enforced/],
    [{ ingress: [{ from: [{ podSelector: { matchFields: [] } }] }] }, /podSelector.*'matchFields'/],
    [{ ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: "a", operator: "Gt", values: ["1"] }] } }] }] }, /matchExpressions\[0\]\.operator Gt is not one of/],
    [{ ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: "a", operator: "In" }] } }] }] }, /In needs values/],
    [{ ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] } }] }] }, /Exists takes no values/],
  ];
  for (const [spec, re] of cases) assert.throws(() => checkNetworkPolicy(policy(spec), "NetworkPolicy redis/p"), re, JSON.stringify(spec));
  assert.doesNotThrow(() => checkNetworkPolicy(policy({ policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: { matchLabels: { a: "b" } }, podSelector: { matchLabels: { c: "d" } } }], ports: [{ port: "bus" }] }] }), "np"));
});

test("ingress chain: unselected pods open; selected ones admit loopback, replies, the node, each rule's peers x ports, then DROP", () => {
  const r0 = pod("r0", "10.1.0.10", { app: "redis" });
  const r1 = pod("r1", "10.1.0.11", { app: "redis" });
  const job = pod("job", "10.1.0.130", { client: "true" });
  const other = pod("x", "10.1.0.131", { client: "true" }, "other");
  const prom = pod("prom", "10.1.0.132", { app: "prometheus" }, "monitoring");
  const pods = [r0, r1, job, other, prom];
  const namespaces = new Map([["monitoring", { "kubernetes.io/metadata.name": "monitoring" }]]);
  const np = policy({
    policyTypes: ["Ingress"],
    ingress: [
      { from: [{ podSelector: { matchLabels: { app: "redis" } } }], ports: [{ protocol: "TCP", port: 6379 }, { protocol: "TCP", port: "bus" }] },
      { from: [{ podSelector: { matchLabels: { client: "true" } } }], ports: [{ port: 6379 }] },
      { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }], ports: [{ port: 9121 }] },
    ],
  });
  assert.deepEqual(ingressRules(job, [np], namespaces, pods, "10.1.0.1"), [], "a pod no policy selects accepts everything");
  assert.deepEqual(ingressRules(r0, [np], namespaces, pods, "10.1.0.1"), [
    "-A RC-INGRESS -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
    "-A RC-INGRESS -i lo -j ACCEPT",
    "-A RC-INGRESS -s 10.1.0.1/32 -j ACCEPT",
    "-A RC-INGRESS -s 10.1.0.10/32 -p tcp --dport 6379 -j ACCEPT",
    "-A RC-INGRESS -s 10.1.0.10/32 -p tcp --dport 16379 -j ACCEPT",
    "-A RC-INGRESS -s 10.1.0.11/32 -p tcp --dport 6379 -j ACCEPT",
    "-A RC-INGRESS -s 10.1.0.11/32 -p tcp --dport 16379 -j ACCEPT",
    // The client label admits pods of the policy's namespace only (x in "other" is not admitted).
    "-A RC-INGRESS -s 10.1.0.130/32 -p tcp --dport 6379 -j ACCEPT",
    "-A RC-INGRESS -s 10.1.0.132/32 -p tcp --dport 9121 -j ACCEPT",
    "-A RC-INGRESS -j DROP",
  ]);
  // A peer that selects no pod admits nobody; no `from` admits every source; no `ports` every port.
  const none = policy({ ingress: [{ from: [{ podSelector: { matchLabels: { nobody: "x" } } }] }] });
  assert.deepEqual(ingressRules(r0, [none], namespaces, pods, "10.1.0.1").slice(3), ["-A RC-INGRESS -j DROP"]);
  const any = policy({ ingress: [{}] });
  assert.deepEqual(ingressRules(r0, [any], namespaces, pods, "10.1.0.1").slice(3), ["-A RC-INGRESS -j ACCEPT", "-A RC-INGRESS -j DROP"]);
  // An ipBlock admits its CIDR as source (clients outside the cluster, their address kept by the load balancer).
  const block = policy({ ingress: [{ from: [{ ipBlock: { cidr: "198.51.100.0/24" } }], ports: [{ port: "redis" }] }] });
  assert.deepEqual(ingressRules(r0, [block], namespaces, pods, "10.1.0.1").slice(3), ["-A RC-INGRESS -s 198.51.100.0/24 -p tcp --dport 6379 -j ACCEPT", "-A RC-INGRESS -j DROP"]);
  // The pods' network is IPv4: an IPv6 block admits no one (allowAnySource's ::/0 beside 0.0.0.0/0).
  const v6 = policy({ ingress: [{ from: [{ ipBlock: { cidr: "::/0" } }] }] });
  assert.deepEqual(ingressRules(r0, [v6], namespaces, pods, "10.1.0.1").slice(3), ["-A RC-INGRESS -j DROP"]);
  // matchExpressions: In admits the listed values only, NotIn and DoesNotExist also pods without the key.
  const expr = (operator: string, values?: string[]) => policy({ ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: "client", operator, ...(values ? { values } : {}) }] } }], ports: [{ port: 6379 }] }] });
  const admitted = (np: object) => ingressRules(r0, [np], namespaces, pods, "10.1.0.1").slice(3, -1).map((l) => l.split(" ")[3]);
  assert.deepEqual(admitted(expr("In", ["true", "yes"])), ["10.1.0.130/32"]);
  assert.deepEqual(admitted(expr("NotIn", ["true"])), ["10.1.0.10/32", "10.1.0.11/32"]);
  assert.deepEqual(admitted(expr("Exists")), ["10.1.0.130/32"]);
  assert.deepEqual(admitted(expr("DoesNotExist")), ["10.1.0.10/32", "10.1.0.11/32"]);
  // No ingress rule at all: deny everything but the node and loopback.
  assert.deepEqual(ingressRules(r0, [policy({})], namespaces, pods, "10.1.0.1").slice(3), ["-A RC-INGRESS -j DROP"]);
});
