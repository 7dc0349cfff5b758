// A program of `resources` registrations, the stack's own included: trivial Kubernetes objects (a namespace and
// ConfigMaps of one short key), i.e. what Pulumi's SDK itself spends per resource without the program's own work.
// Beside the floor in the preview bench (tools/bench/preview.ts).
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";

const count = new pulumi.Config().requireNumber("resources");
const ns = new k8s.core.v1.Namespace("trivial", { metadata: { name: "trivial" } });
for (let i = 2; i < count; i++) new k8s.core.v1.ConfigMap(`trivial-${i}`, { metadata: { namespace: ns.metadata.name }, data: { key: "value" } });
