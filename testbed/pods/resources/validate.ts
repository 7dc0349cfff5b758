// The objects the runner stores without running them (ConfigMap, Secret, Service, PodDisruptionBudget, NetworkPolicy,
// Namespace, ServiceAccount): each is checked as the API server would check it before it is kept. The field types and
// required fields come from the Kubernetes OpenAPI schema (kubernetes-models' validate()); fields the runner does not
// implement are refused by name (its schemas accept unknown fields); and the cross-field rules the API server applies
// to these objects and that the runner relies on are checked here.
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { Unemulated } from "../../refuse";
import { LB_SPEC_FIELDS, checkLoadBalancerFields } from "../loadBalancer";
import { checkNetworkPolicy } from "../networkPolicy";
import { refuse, type Obj } from "../spec";

interface StoredKind {
  model: new (o: any) => { validate(): void };
  /** Top-level fields the runner implements (apiVersion, kind, metadata besides). */
  top: string[];
  /** Fields of spec it implements, for kinds with a spec. */
  spec?: string[];
  /** The API server's cross-field rules that matter here; throws with the field's name. */
  rules?: (o: Obj, where: string) => void;
}

const fail = (where: string, msg: string): never => {
  throw new Error(`pods runner: ${where}: ${msg} (the API server refuses it)`);
};
/** A valid value the runner does not implement. */
const unemulated = (where: string, msg: string): never => {
  throw new Unemulated(`pods runner: ${where}: ${msg}`);
};

/** A selector the runner can evaluate: matchLabels only, at least one label (an empty one would select every pod). */
function labelSelector(where: string, sel: Obj | undefined): void {
  refuse(where, sel, ["matchLabels"]);
  if (Object.keys(sel?.matchLabels ?? {}).length === 0) unemulated(where, "an empty selector (every pod of the namespace) is not implemented");
}

const SECRET_TYPES: Record<string, string[]> = { Opaque: [], "kubernetes.io/tls": ["tls.crt", "tls.key"] };

/**
 * The API server's bound on a ConfigMap's or a Secret's data (core.MaxSecretSize): the byte length of every value
 * summed, keys not counted (ValidateConfigMap and ValidateSecret, kubernetes/kubernetes
 * pkg/apis/core/validation/validation.go). A Secret's data values are base64 on the wire and count decoded; its
 * stringData is merged into data (a stringData value wins) before the check.
 */
const MAX_DATA_BYTES = 1024 * 1024;
function dataSize(where: string, path: string, sizes: number[]): void {
  const bytes = sizes.reduce((sum, n) => sum + n, 0);
  if (bytes > MAX_DATA_BYTES) fail(where, `${path}: Too long: must have at most ${MAX_DATA_BYTES} bytes (its values hold ${bytes})`);
}

const KINDS: Record<string, StoredKind> = {
  // binaryData and immutable are not implemented: the pods' volumes read data only, an update replaces it.
  ConfigMap: {
    model: ConfigMap,
    top: ["data"],
    // The API server names the whole object ("[]") for a ConfigMap.
    rules: (o, where) => dataSize(where, "[]", Object.values<string>(o.data ?? {}).map((v) => Buffer.byteLength(v, "utf8"))),
  },
  Secret: {
    model: Secret,
    top: ["type", "data", "stringData"],
    rules: (o, where) => {
      const type = o.type ?? "Opaque";
      if (!(type in SECRET_TYPES)) unemulated(where, `type ${type}: implemented are ${Object.keys(SECRET_TYPES).join(", ")}`);
      const keys = new Set([...Object.keys(o.data ?? {}), ...Object.keys(o.stringData ?? {})]);
      for (const k of SECRET_TYPES[type]) if (!keys.has(k)) fail(where, `type ${type} needs key ${k}`);
      const sizes: Record<string, number> = {};
      for (const [k, v] of Object.entries<string>(o.data ?? {})) sizes[k] = Buffer.byteLength(v, "base64");
      for (const [k, v] of Object.entries<string>(o.stringData ?? {})) sizes[k] = Buffer.byteLength(v, "utf8");
      dataSize(where, "data", Object.values(sizes));
    },
  },
  Service: {
    model: Service,
    top: ["spec"],
    spec: ["type", "clusterIP", "publishNotReadyAddresses", "selector", "ports", ...LB_SPEC_FIELDS],
    rules: (o, where) => {
      const spec = o.spec ?? {};
      if (!["ClusterIP", "LoadBalancer"].includes(spec.type ?? "ClusterIP")) unemulated(where, `spec.type ${spec.type}: implemented are ClusterIP and LoadBalancer`);
      checkLoadBalancerFields(o, where);
      if (spec.clusterIP !== undefined && spec.clusterIP !== "None") unemulated(where, `spec.clusterIP ${spec.clusterIP}: only None (headless) or unset (one is assigned) is implemented`);
      if (Object.keys(spec.selector ?? {}).length === 0) unemulated(where, "spec.selector: a Service without a selector has no pods to name");
      const names = new Set<string>();
      for (const p of spec.ports ?? []) {
        refuse(`${where} port ${p.name}`, p, ["name", "port", "targetPort", "protocol", "nodePort"]);
        if ((p.protocol ?? "TCP") !== "TCP") unemulated(where, `port ${p.name}: protocol ${p.protocol}`);
        if ((spec.ports.length > 1 && !p.name) || names.has(p.name)) fail(where, `port names must be set and unique when there are several ('${p.name}')`);
        names.add(p.name);
      }
    },
  },
  // Honoured by the Eviction API (../eviction.ts); the rolling update, one pod at a time, does not consult it (nor does the controller on a cluster).
  PodDisruptionBudget: {
    model: PodDisruptionBudget,
    top: ["spec"],
    spec: ["minAvailable", "maxUnavailable", "selector"],
    rules: (o, where) => {
      const { minAvailable, maxUnavailable } = o.spec ?? {};
      if (minAvailable !== undefined && maxUnavailable !== undefined) fail(where, "spec.minAvailable and spec.maxUnavailable both set");
      if (minAvailable === undefined && maxUnavailable === undefined) unemulated(where, "neither spec.minAvailable nor spec.maxUnavailable: set one");
      labelSelector(`${where}.spec.selector`, o.spec?.selector);
    },
  },
  // Enforced for ingress (../networkPolicy.ts), which refuses the rest by name.
  NetworkPolicy: {
    model: NetworkPolicy,
    top: ["spec"],
    spec: ["podSelector", "policyTypes", "ingress", "egress"],
    rules: (o, where) => {
      labelSelector(`${where}.spec.podSelector`, o.spec?.podSelector);
      checkNetworkPolicy(o, where);
    },
  },
  Namespace: { model: Namespace, top: [] },
  ServiceAccount: { model: ServiceAccount, top: ["automountServiceAccountToken"] },
};

/** Kinds checkStored knows; the runner stores no other kind without running it. */
export const STORED_KINDS = Object.keys(KINDS);

/** Checks one stored object (`where` names it); throws naming the first field the API server or the runner refuses. */
export function checkStored(kind: string, o: Obj, where: string): void {
  const k = KINDS[kind];
  if (!k) throw new Error(`pods runner: ${where}: kind ${kind} has no checks (testbed/pods/resources/validate.ts)`);
  refuse(where, o, ["apiVersion", "kind", "metadata", ...k.top]);
  refuse(`${where}.metadata`, o.metadata, ["name", "namespace", "labels", "annotations"]);
  if (k.spec) refuse(`${where}.spec`, o.spec, k.spec);
  try {
    new k.model(o).validate();
  } catch (e) {
    fail(where, `not a valid ${kind}: ${(e as Error).message}`);
  }
  k.rules?.(o, where);
}
