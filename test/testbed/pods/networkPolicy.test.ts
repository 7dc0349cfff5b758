// The NetworkPolicy engine's pure half (testbed/pods/networkPolicy.ts): what it refuses by name, and the ingress
// chain it writes for a pod from the policies, namespaces and pods (the real iptables in a pod: network.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkNetworkPolicy, cidrsWithout, ingressRules } from "../../../testbed/pods/networkPolicy";
import type { NetPod } from "../../../testbed/pods/serviceProxy";

const pod = (name: string, ip: string, labels: Record<string, string>, namespace = "redis"): NetPod => ({
  name, namespace, labels, ip, ready: true, phase: "Running", deleting: false,
  spec: { containers: [{ name: "redis", ports: [{ name: "redis", containerPort: 6379 }, { name: "bus", containerPort: 16379 }] }] },
});
const policy = (spec: object, namespace = "redis") => ({ metadata: { name: "p", namespace }, spec: { podSelector: { matchLabels: { app: "redis" } }, ...spec } });

test("refused by name: Egress, an ipBlock except outside its cidr, endPort, UDP, a selector's unknown field or bad expression", () => {
  const cases: [object, RegExp][] = [
    [{ policyTypes: ["Ingress", "Egress"] }, /Egress policies .* are not enforced/],
    [{ egress: [{}] }, /Egress policies/],
    [{ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["192.168.0.0/16"] } }] }] }, /ingress\[0\]\.from\[0\]\.ipBlock\.except\[0\] 192\.168\.0\.0\/16 is not a strict subset of the cidr 10\.0\.0\.0\/8/],
    [{ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["10.0.0.0/8"] } }] }] }, /except\[0\] 10\.0\.0\.0\/8 is not a strict subset/],
    [{ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/33"] } }] }] }, /except\[0\] 10\.1\.0\.0\/33 has prefix \/33/],
    [{ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/8", extra: 1 } }] }] }, /ipBlock sets 'extra'/],
    [{ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/33" } }] }] }, /ipBlock\.cidr 10\.0\.0\.0\/33 has prefix \/33/],
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

/** The source blocks of a chain's ACCEPT rules after the node's. */
const admittedBlocks = (chain: string[]) => chain.slice(3).flatMap((l) => /-s (\S+) .*-j ACCEPT$/.exec(l)?.[1] ?? []);

test("a CIDR less its except blocks: the covering CIDRs, each address once, none excepted", () => {
  assert.deepEqual(cidrsWithout("10.0.0.0/8", []), ["10.0.0.0/8"]);
  assert.deepEqual(cidrsWithout("10.0.0.0/8", ["192.168.0.0/16"]), ["10.0.0.0/8"]);
  assert.deepEqual(cidrsWithout("10.1.0.0/16", ["10.0.0.0/8"]), []);
  assert.deepEqual(cidrsWithout("10.0.0.0/8", ["10.0.0.0/9", "10.255.255.255/32"]), ["10.128.0.0/10", "10.192.0.0/11", "10.224.0.0/12", "10.240.0.0/13", "10.248.0.0/14",
    "10.252.0.0/15", "10.254.0.0/16", "10.255.0.0/17", "10.255.128.0/18", "10.255.192.0/19", "10.255.224.0/20", "10.255.240.0/21", "10.255.248.0/22",
    "10.255.252.0/23", "10.255.254.0/24", "10.255.255.0/25", "10.255.255.128/26", "10.255.255.192/27", "10.255.255.224/28", "10.255.255.240/29",
    "10.255.255.248/30", "10.255.255.252/31", "10.255.255.254/32"]);
  assert.deepEqual(cidrsWithout("2001:db8::/32", ["2001:db8:8000::/33"]), ["2001:db8::/33"]);
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
  // `except` leaves its blocks out (the pod network inside allowAnySource's 0.0.0.0/0): the rest as the CIDRs covering it.
  const except = policy({ ingress: [{ from: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8"] } }], ports: [{ port: "redis" }] }] });
  assert.deepEqual(admittedBlocks(ingressRules(r0, [except], namespaces, pods, "10.1.0.1")), ["0.0.0.0/5", "8.0.0.0/7", "11.0.0.0/8", "12.0.0.0/6", "16.0.0.0/4", "32.0.0.0/3", "64.0.0.0/2", "128.0.0.0/1"]);
  // Another peer of the rule still admits an excepted address (a pod by its label).
  const both = policy({ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] } }, { podSelector: { matchLabels: { client: "true" } } }], ports: [{ port: 6379 }] }] });
  assert.ok(admittedBlocks(ingressRules(r0, [both], namespaces, pods, "10.1.0.1")).includes("10.1.0.130/32"));
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
