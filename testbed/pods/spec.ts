// What the pods runner implements of a Kubernetes pod spec, and nothing else: every field is checked against the
// lists below before any container starts, so a field the program adds later fails loudly instead of being ignored.
// The translation of one container to Docker follows the kubelet: env with $(VAR) expansion, fieldRefs and
// secretKeyRefs, command/args over the image's entrypoint/cmd, securityContext as --user/--read-only/--cap-drop.
import { Unemulated, refuseUnknown } from "../refuse";

export type Obj = Record<string, any>;

/** Fields of each object the runner knows how to honour; anything else is refused (name, path, what to do). */
const KNOWN = {
  podSpec: [
    "containers", "volumes", "restartPolicy", "serviceAccountName", "automountServiceAccountToken", "enableServiceLinks",
    "terminationGracePeriodSeconds", "securityContext", "affinity", "topologySpreadConstraints",
  ],
  podSecurityContext: ["runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup", "fsGroupChangePolicy", "seccompProfile"],
  container: [
    "name", "image", "imagePullPolicy", "command", "args", "env", "ports", "resources", "volumeMounts", "startupProbe",
    "livenessProbe", "readinessProbe", "lifecycle", "securityContext", "terminationMessagePolicy", "terminationMessagePath",
  ],
  containerSecurityContext: ["runAsNonRoot", "runAsUser", "runAsGroup", "readOnlyRootFilesystem", "allowPrivilegeEscalation", "privileged", "capabilities", "seccompProfile"],
  probe: ["exec", "httpGet", "initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold", "successThreshold"],
  volume: ["name", "configMap", "secret", "projected", "emptyDir"],
  volumeMount: ["name", "mountPath", "readOnly"],
  env: ["name", "value", "valueFrom"],
  port: ["name", "containerPort", "protocol"],
} as const;

/** Refuses a field the runner does not implement, by name (testbed/refuse.ts); its message names the object too. */
export function refuse(where: string, obj: Obj | undefined, known: readonly string[]): void {
  refuseUnknown("pods runner", where, obj, known, "implement it in testbed/pods/ or leave it out of the program");
}

/** Whose pods: StatefulSet and Deployment pods restart (Always) and are probed; a Job's run once (Never). */
export type PodKind = "statefulset" | "deployment" | "job";

const must = (cond: boolean, msg: string) => {
  if (!cond) throw new Unemulated(`pods runner: ${msg}`);
};

/**
 * Checks a pod template's spec; `kind` decides the restart policy the runner implements for it. `labels`: the
 * template's labels (a spread constraint must select these pods); `claims`: the StatefulSet's claim template names.
 */
export function checkPodSpec(spec: Obj, where: string, kind: PodKind, replicas: number, labels: Record<string, string> = {}, claims: readonly string[] = []): void {
  refuse(`${where}.spec`, spec, KNOWN.podSpec);
  must(spec.serviceAccountName === undefined || (typeof spec.serviceAccountName === "string" && spec.serviceAccountName !== ""), `${where}.spec.serviceAccountName must be a name`);
  must(kind !== "job" ? (spec.restartPolicy ?? "Always") === "Always" : spec.restartPolicy === "Never",
    `${where}.spec.restartPolicy ${spec.restartPolicy}: implemented are Always (StatefulSet, Deployment) and Never (Job)`);
  must(spec.automountServiceAccountToken === false, `${where}.spec.automountServiceAccountToken must be false (no API server, no token to mount)`);
  must(spec.enableServiceLinks === false || kind === "job" && spec.enableServiceLinks === undefined,
    `${where}.spec.enableServiceLinks: only false is implemented (no service environment variables)`);
  const sc = spec.securityContext ?? {};
  refuse(`${where}.spec.securityContext`, sc, KNOWN.podSecurityContext);
  checkSeccomp(`${where}.spec.securityContext`, sc.seccompProfile);
  must(sc.fsGroupChangePolicy === undefined || ["OnRootMismatch", "Always"].includes(sc.fsGroupChangePolicy), `${where}.spec.securityContext.fsGroupChangePolicy ${sc.fsGroupChangePolicy}`);
  // One Docker host is one node: soft spreading is trivially met; a hard rule for several pods cannot be scheduled.
  const aff = spec.affinity;
  if (aff) {
    refuse(`${where}.spec.affinity`, aff, ["podAntiAffinity"]);
    refuse(`${where}.spec.affinity.podAntiAffinity`, aff.podAntiAffinity, ["preferredDuringSchedulingIgnoredDuringExecution", "requiredDuringSchedulingIgnoredDuringExecution"]);
    must(!aff.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution || replicas <= 1,
      `${where}: required pod anti-affinity for ${replicas} pods cannot be scheduled on the runner's single node (use antiAffinity soft)`);
  }
  // One node is one topology domain: every pod is in it, so a soft constraint is met trivially (skew 0). Its fields
  // are still checked, so a constraint that could never count these pods (wrong selector) is not waved through.
  for (const [i, t] of (spec.topologySpreadConstraints ?? []).entries()) {
    const at = `${where}.spec.topologySpreadConstraints[${i}]`;
    refuse(at, t, ["maxSkew", "topologyKey", "whenUnsatisfiable", "labelSelector"]);
    must(t.whenUnsatisfiable === "ScheduleAnyway", `${at}.whenUnsatisfiable ${t.whenUnsatisfiable}: only ScheduleAnyway is implemented (a single node cannot show a hard spread)`);
    must(Number.isInteger(t.maxSkew) && t.maxSkew >= 1, `${at}.maxSkew ${t.maxSkew}: must be an integer >= 1`);
    must(typeof t.topologyKey === "string" && t.topologyKey !== "", `${at}.topologyKey must be set`);
    refuse(`${at}.labelSelector`, t.labelSelector, ["matchLabels"]);
    must(selects(t.labelSelector?.matchLabels, labels), `${at}.labelSelector ${JSON.stringify(t.labelSelector?.matchLabels ?? {})} does not select the pod's labels ${JSON.stringify(labels)}`);
  }
  const volumes = new Set<string>();
  for (const v of spec.volumes ?? []) {
    refuse(`${where}.spec.volumes[${v.name}]`, v, KNOWN.volume);
    must(!volumes.has(v.name), `${where}.spec.volumes: '${v.name}' declared twice`);
    volumes.add(v.name);
    if (v.configMap) refuse(`volume ${v.name}.configMap`, v.configMap, ["name", "defaultMode", "items"]);
    if (v.secret) refuse(`volume ${v.name}.secret`, v.secret, ["secretName", "defaultMode", "items", "optional"]);
    for (const [i, it] of (v.configMap?.items ?? v.secret?.items ?? []).entries()) {
      refuse(`volume ${v.name} items[${i}]`, it, ["key", "path", "mode"]);
      must(typeof it.key === "string" && typeof it.path === "string" && !it.path.startsWith("/") && !it.path.split("/").includes(".."), `volume ${v.name} items[${i}]: key and a relative path without '..'`);
      must(it.mode === undefined || (Number.isInteger(it.mode) && it.mode >= 0 && it.mode <= 0o777), `volume ${v.name} items[${i}].mode ${it.mode}: 0 to 0777`);
    }
    if (v.emptyDir) refuse(`volume ${v.name}.emptyDir`, v.emptyDir, ["sizeLimit"]);
    if (v.projected) {
      refuse(`volume ${v.name}.projected`, v.projected, ["defaultMode", "sources"]);
      for (const s of v.projected.sources ?? []) {
        refuse(`volume ${v.name}.projected.sources[]`, s, ["configMap"]);
        refuse(`volume ${v.name}.projected.sources[].configMap`, s.configMap, ["name"]);
      }
    }
  }
  const names = new Set<string>();
  for (const c of spec.containers ?? []) {
    must(!names.has(c.name), `${where}: container name '${c.name}' used twice`);
    names.add(c.name);
    checkContainer(c, `${where} container ${c.name}`, volumes, claims, kind);
  }
}

/** A matchLabels selector selects `labels` (every pair present); an empty or missing one selects nothing here. */
export function selects(matchLabels: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  const pairs = Object.entries(matchLabels ?? {});
  return pairs.length > 0 && pairs.every(([k, v]) => labels[k] === v);
}

function checkSeccomp(where: string, p: Obj | undefined): void {
  if (!p) return;
  refuse(`${where}.seccompProfile`, p, ["type"]);
  // Docker's default profile is the container runtime's default (RuntimeDefault).
  must(p.type === "RuntimeDefault", `${where}.seccompProfile.type ${p.type}: only RuntimeDefault (Docker's default profile) is implemented`);
}

function checkContainer(c: Obj, where: string, volumes: Set<string>, claims: readonly string[], kind: PodKind): void {
  refuse(where, c, KNOWN.container);
  must(["IfNotPresent", "Never", undefined].includes(c.imagePullPolicy), `${where}.imagePullPolicy ${c.imagePullPolicy}: no registry, images are local`);
  must(c.terminationMessagePath === undefined || c.terminationMessagePath === "/dev/termination-log", `${where}.terminationMessagePath: only the default /dev/termination-log`);
  must([undefined, "File", "FallbackToLogsOnError"].includes(c.terminationMessagePolicy), `${where}.terminationMessagePolicy ${c.terminationMessagePolicy}`);
  for (const e of c.env ?? []) {
    refuse(`${where} env ${e.name}`, e, KNOWN.env);
    if (e.valueFrom) {
      refuse(`${where} env ${e.name}.valueFrom`, e.valueFrom, ["fieldRef", "secretKeyRef"]);
      if (e.valueFrom.fieldRef) {
        refuse(`${where} env ${e.name}.valueFrom.fieldRef`, e.valueFrom.fieldRef, ["fieldPath", "apiVersion"]);
        must(FIELD_PATHS.includes(e.valueFrom.fieldRef.fieldPath), `${where} env ${e.name}: fieldRef ${e.valueFrom.fieldRef.fieldPath} (implemented: ${FIELD_PATHS.join(", ")})`);
      }
      if (e.valueFrom.secretKeyRef) refuse(`${where} env ${e.name}.valueFrom.secretKeyRef`, e.valueFrom.secretKeyRef, ["name", "key"]);
    }
  }
  const portNames = new Set<string>();
  for (const p of c.ports ?? []) {
    refuse(`${where} port ${p.name}`, p, KNOWN.port);
    must((p.protocol ?? "TCP") === "TCP", `${where} port ${p.name}: protocol ${p.protocol}`);
    if (p.name !== undefined) must(!portNames.has(p.name), `${where}: port name '${p.name}' used twice`);
    portNames.add(p.name);
  }
  const r = c.resources ?? {};
  refuse(`${where}.resources`, c.resources, ["requests", "limits"]);
  refuse(`${where}.resources.requests`, r.requests, ["cpu", "memory"]);
  refuse(`${where}.resources.limits`, r.limits, ["cpu", "memory"]);
  // The API server refuses a request above its limit; Docker would refuse a reservation above the memory limit.
  if (r.requests?.memory && r.limits?.memory) must(bytesOf(r.requests.memory) <= bytesOf(r.limits.memory), `${where}.resources: requests.memory ${r.requests.memory} above limits.memory ${r.limits.memory}`);
  if (r.requests?.cpu && r.limits?.cpu) must(nanoCpusOf(r.requests.cpu) <= nanoCpusOf(r.limits.cpu), `${where}.resources: requests.cpu ${r.requests.cpu} above limits.cpu ${r.limits.cpu}`);
  for (const m of c.volumeMounts ?? []) {
    refuse(`${where} volumeMount ${m.name}`, m, KNOWN.volumeMount);
    must(volumes.has(m.name) || (kind === "statefulset" && claims.includes(m.name)), `${where} mounts '${m.name}', which is neither a volume nor a claim template`);
  }
  for (const k of ["startupProbe", "livenessProbe", "readinessProbe"] as const) {
    const p = c[k];
    if (!p) continue;
    must(kind !== "job", `${where}.${k}: probes are implemented for StatefulSet and Deployment pods only`);
    refuse(`${where}.${k}`, p, KNOWN.probe);
    must(!!p.exec !== !!p.httpGet, `${where}.${k}: exactly one of exec, httpGet`);
    if (p.exec) refuse(`${where}.${k}.exec`, p.exec, ["command"]);
    if (p.httpGet) {
      refuse(`${where}.${k}.httpGet`, p.httpGet, ["path", "port"]);
      must(typeof p.httpGet.port === "number" || portNames.has(p.httpGet.port), `${where}.${k}.httpGet.port '${p.httpGet.port}' is not a port of the container`);
    }
    must(k === "readinessProbe" || (p.successThreshold ?? 1) === 1, `${where}.${k}.successThreshold must be 1`);
  }
  if (c.lifecycle) {
    refuse(`${where}.lifecycle`, c.lifecycle, ["preStop"]);
    refuse(`${where}.lifecycle.preStop`, c.lifecycle.preStop, ["exec"]);
    refuse(`${where}.lifecycle.preStop.exec`, c.lifecycle.preStop.exec, ["command"]);
  }
  const sc = c.securityContext ?? {};
  refuse(`${where}.securityContext`, sc, KNOWN.containerSecurityContext);
  checkSeccomp(`${where}.securityContext`, sc.seccompProfile);
  must(sc.privileged !== true, `${where}.securityContext.privileged: not implemented`);
  if (sc.capabilities) {
    refuse(`${where}.securityContext.capabilities`, sc.capabilities, ["drop"]);
    must(JSON.stringify(sc.capabilities.drop) === '["ALL"]', `${where}.securityContext.capabilities.drop: only ["ALL"] is implemented`);
  }
}

export const FIELD_PATHS = ["metadata.name", "metadata.namespace", "status.podIP"];

/** Kubernetes' $(VAR) expansion (pkg/kubelet/kubecontainer expansion): defined names expand, $$ escapes, others stay. */
export function expand(s: string, vars: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name?: string) => {
    if (m === "$$") return "$";
    return name !== undefined && name in vars ? vars[name] : m;
  });
}

/** Quantity in bytes ("2Gi", "64Mi", "512M", "1536mb" is not a Kubernetes quantity). */
export function bytesOf(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
  if (!m) throw new Unemulated(`pods runner: '${q}' is not a memory quantity`);
  const unit: Record<string, number> = { "": 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Math.round(Number(m[1]) * unit[m[2] ?? ""]);
}

/** CPU quantity in nano-CPUs ("250m", "1"). */
export function nanoCpusOf(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(m)?$/.exec(q);
  if (!m) throw new Unemulated(`pods runner: '${q}' is not a CPU quantity`);
  return Math.round(Number(m[1]) * (m[2] ? 1e6 : 1e9));
}
