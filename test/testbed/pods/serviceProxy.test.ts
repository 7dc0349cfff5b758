// kube-proxy's pure half (testbed/pods/serviceProxy.ts): endpoints from readiness and named ports, the DNAT rules'
// probabilities, REJECT without endpoints, a load balancer's ingress by its traffic policy, and the DNS records of ClusterIP and headless Services.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ClusterIps, endpointsOf, serviceRecords, serviceRules, type NetPod } from "../../../testbed/pods/serviceProxy";

const pod = (name: string, ip: string, ready: boolean, phase = "Running"): NetPod => ({
  name, namespace: "redis", labels: { app: "redis" }, ip, ready, phase, deleting: false,
  spec: { containers: [{ name: "redis", ports: [{ name: "redis", containerPort: 6380 }] }] },
});
const svc = (name: string, spec: object) => ({ metadata: { name, namespace: "redis" }, spec: { selector: { app: "redis" }, ports: [{ name: "redis", port: 6379, targetPort: "redis" }], ...spec } });

test("endpoints: Ready pods at the named container port; publishNotReadyAddresses takes every running pod", () => {
  const pods = [pod("a", "10.1.0.12", true), pod("b", "10.1.0.11", false), pod("c", "10.1.0.13", true, "Failed"), { ...pod("d", "10.1.0.14", true), namespace: "other" }];
  assert.deepEqual(endpointsOf(svc("s", {}), 6379, pods), [{ ip: "10.1.0.12", port: 6380 }]);
  assert.deepEqual(endpointsOf(svc("s", { publishNotReadyAddresses: true }), 6379, pods).map((e) => e.ip), ["10.1.0.11", "10.1.0.12"]);
  assert.deepEqual(endpointsOf(svc("s", { ports: [{ name: "x", port: 1, targetPort: "missing" }] }), 1, pods), [], "a name no container port has");
});

test("rules: n endpoints get probabilities 1/n, 1/(n-1), …, then the last unconditionally; none: REJECT", () => {
  const pods = ["10.1.0.10", "10.1.0.11", "10.1.0.12"].map((ip, i) => pod(`p${i}`, ip, true));
  const r = serviceRules([{ svc: svc("s", {}), vip: "10.96.0.10" }], pods);
  assert.deepEqual(r.nat, [
    "-A RC-SERVICES -d 10.96.0.10/32 -p tcp --dport 6379 -m statistic --mode random --probability 0.33333 -j DNAT --to-destination 10.1.0.10:6380",
    "-A RC-SERVICES -d 10.96.0.10/32 -p tcp --dport 6379 -m statistic --mode random --probability 0.50000 -j DNAT --to-destination 10.1.0.11:6380",
    "-A RC-SERVICES -d 10.96.0.10/32 -p tcp --dport 6379 -j DNAT --to-destination 10.1.0.12:6380",
  ]);
  assert.deepEqual(r.filter, []);
  const empty = serviceRules([{ svc: svc("s", {}), vip: "10.96.0.10" }], []);
  assert.deepEqual(empty, { nat: [], filter: ["-A RC-SERVICES-REJECT -d 10.96.0.10/32 -p tcp --dport 6379 -j REJECT --reject-with tcp-reset"] });
});

test("a load balancer's ingress inside the pods: Local to the endpoints, Cluster through the node's node port (masqueraded there); its source ranges either way", () => {
  const pods = [pod("a", "10.1.0.12", true)];
  const lb = (policy: string) => svc("s", { type: "LoadBalancer", externalTrafficPolicy: policy, loadBalancerSourceRanges: ["10.1.0.0/16"] });
  const local = serviceRules([{ svc: lb("Local"), vip: "10.96.0.10", ingress: "203.0.113.10" }], pods);
  assert.ok(local.nat.includes("-A RC-SERVICES -d 203.0.113.10/32 -p tcp --dport 6379 -s 10.1.0.0/16 -j DNAT --to-destination 10.1.0.12:6380"), local.nat.join("\n"));
  const viaNode = { ip: "10.1.0.2", nodePorts: new Map([[6379, 30001]]) };
  const cluster = serviceRules([{ svc: lb("Cluster"), vip: "10.96.0.10", ingress: "203.0.113.10", viaNode }], pods);
  assert.deepEqual(cluster.nat, [
    "-A RC-SERVICES -d 10.96.0.10/32 -p tcp --dport 6379 -j DNAT --to-destination 10.1.0.12:6380",
    "-A RC-SERVICES -d 203.0.113.10/32 -p tcp --dport 6379 -s 10.1.0.0/16 -j DNAT --to-destination 10.1.0.2:30001",
  ]);
  assert.deepEqual(cluster.filter, ["-A RC-SERVICES-REJECT -d 203.0.113.10/32 -p tcp --dport 6379 -j DROP"], "other sources dropped");
  const none = serviceRules([{ svc: lb("Cluster"), vip: "10.96.0.10", ingress: "203.0.113.10", viaNode }], []);
  assert.deepEqual(none.nat, [], "no endpoints: nothing sent to the node");
  assert.ok(none.filter.includes("-A RC-SERVICES-REJECT -d 203.0.113.10/32 -p tcp --dport 6379 -j REJECT --reject-with tcp-reset"));
});

test("DNS: a ClusterIP Service's name is its virtual IP, a headless one's its backing pods; IPs kept per Service", () => {
  const ips = new ClusterIps();
  assert.equal(ips.allocate("redis/client"), "10.96.0.10");
  assert.equal(ips.allocate("redis/other"), "10.96.0.11");
  assert.equal(ips.allocate("redis/client"), "10.96.0.10", "an update keeps the IP");
  const pods = [pod("a", "10.1.0.12", true), pod("b", "10.1.0.11", false)];
  const client = { metadata: { name: "client", namespace: "redis" }, spec: { selector: { app: "redis" } } };
  const headless = { metadata: { name: "h", namespace: "redis" }, spec: { clusterIP: "None", publishNotReadyAddresses: true, selector: { app: "redis" } } };
  assert.deepEqual(serviceRecords([client, headless], ips.byService, pods), [
    ["10.96.0.10", "client.redis.svc.cluster.local"],
    ["10.1.0.12", "h.redis.svc.cluster.local"],
    ["10.1.0.11", "h.redis.svc.cluster.local"],
  ]);
});
