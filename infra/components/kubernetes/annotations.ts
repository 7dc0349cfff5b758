/** pulumi-kubernetes: a Job that is not ready (failed) is replaced on the next update instead of blocking it. */
export const REPLACE_UNREADY = "pulumi.com/replaceUnready";
/** On a Job and its pod template: changes when the Job must run again (a new template replaces the Job). */
export const DEFINITION_SHA256 = "redis-cluster/definition-sha256";
/** On a bundle's ConfigMap: the bundle it holds. */
export const BUNDLE_SHA256 = "redis-cluster/bundle-sha256";
/** On the pods: the checksum of their files, so the cause of a roll is visible on them. */
export const CONFIG_CHECKSUM = "redis-cluster/config-checksum";
