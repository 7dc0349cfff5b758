import type { ClusterSpec } from "../config/schema";
import { kubernetesNames, type ClusterPlan, type PlannedNode, type Placement } from "./plan";
import { externalAccessPlan } from "./externalAccess";

/** Subject alternative names of one certificate. */
export interface Sans {
  dnsNames: string[];
  ipAddresses: string[];
}

/** A certificate the platform issues from the cluster's CA. */
export interface CertificateRequest {
  /** Resource/Secret suffix: "node-<i>", "nodes" (Kubernetes, shared) or "client". */
  id: string;
  commonName: string;
  /** Indexes of the nodes that present it (empty for the client certificate). */
  nodes: number[];
  sans: Sans;
  /** Server certificates are also the node's client certificate on the bus and to its master. */
  usages: ("server_auth" | "client_auth")[];
}

const unique = (xs: string[]) => [...new Set(xs)];

/**
 * The names a client may use to reach one node: what it announces (container address / pod DNS name), the
 * published host address on Docker (the natMap path), and loopback for probes and sidecars inside the node.
 */
export function nodeSans(spec: ClusterSpec, node: PlannedNode, kind: Placement["kind"]): Sans {
  switch (kind) {
    case "docker":
      return { dnsNames: [node.name, "localhost"], ipAddresses: unique([node.host, spec.docker.announceHost, "127.0.0.1"]) };
    case "kubernetes": {
      const k = kubernetesNames(spec);
      const ns = spec.kubernetes.namespace;
      const pod = k.pod(node.index);
      // The fully qualified name is what the node announces (with externalAccess: its external name, listed first);
      // the shorter ones resolve inside the namespace.
      return {
        dnsNames: [
          ...(node.externalHost ? [node.externalHost] : []),
          k.podHost(node.index), `${pod}.${k.headlessService}.${ns}.svc`, `${pod}.${k.headlessService}.${ns}`, `${pod}.${k.headlessService}`, "localhost",
        ],
        ipAddresses: ["127.0.0.1"],
      };
    }
    case "local":
      return { dnsNames: ["localhost"], ipAddresses: unique([node.host, "127.0.0.1"]) };
  }
}

/**
 * What to issue. Docker and local: one certificate per node (a container holds only its own key). Kubernetes: one
 * certificate shared by all pods — a StatefulSet gives every pod the same volumes, so per-pod keys would all be
 * mounted in every pod anyway — with wildcard names under the headless service, so scaling never re-issues it.
 * With externalAccess it also names `*.<domain>`: the external name of every pod, and of anything else under that
 * domain, which is why the domain should be the cluster's own (docs/external-access.md).
 * Pod IPs are not in it (unknown until the pod starts): clients following `preferredEndpointType: ip` redirects verify
 * the chain against the cluster's CA only (docs/security.md), or use `preferredEndpointType: hostname`.
 */
export function planCertificates(spec: ClusterSpec, plan: ClusterPlan, kind: Placement["kind"]): CertificateRequest[] {
  const both: CertificateRequest["usages"] = ["server_auth", "client_auth"];
  const client: CertificateRequest = { id: "client", commonName: `${spec.name}-client`, nodes: [], sans: { dnsNames: [], ipAddresses: [] }, usages: ["client_auth"] };
  if (kind === "kubernetes") {
    const k = kubernetesNames(spec);
    const ns = spec.kubernetes.namespace;
    const svc = k.clientService;
    // externalAccess: every pod's external name, as one wildcard (scaling re-issues nothing, as for the headless names).
    const external = externalAccessPlan(spec);
    return [
      {
        id: "nodes",
        commonName: `${k.headlessService}.${ns}.svc.cluster.local`,
        nodes: plan.nodes.map((n) => n.index),
        sans: {
          dnsNames: [
            `*.${k.headlessService}.${ns}.svc.cluster.local`, `*.${k.headlessService}.${ns}.svc`, `*.${k.headlessService}.${ns}`, `*.${k.headlessService}`,
            `${svc}.${ns}.svc.cluster.local`, `${svc}.${ns}.svc`, `${svc}.${ns}`, svc, "localhost",
            ...(external ? [`*.${external.domain}`] : []),
          ],
          ipAddresses: ["127.0.0.1"],
        },
        usages: both,
      },
      client,
    ];
  }
  return [
    ...plan.nodes.map((n) => ({ id: `node-${n.index}`, commonName: n.name, nodes: [n.index], sans: nodeSans(spec, n, kind), usages: both })),
    client,
  ];
}

/** True when `name` is covered by the certificate's DNS names (a leading `*.` matches exactly one label, as TLS clients do). */
export function sansCover(sans: Sans, name: string): boolean {
  if (sans.ipAddresses.includes(name)) return true;
  return sans.dnsNames.some((d) => d === name || (d.startsWith("*.") && name.endsWith(d.slice(1)) && /^[^.]+$/.test(name.slice(0, name.length - d.length + 1))));
}
