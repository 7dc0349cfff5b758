// Pinned monitoring images and the exporter's metrics port, shared by the stack config defaults and both platforms.
// Pure (no Pulumi): bump deliberately, the rules depend on redis_exporter metric names.

export const EXPORTER_IMAGE = "oliver006/redis_exporter:v1.67.0";
export const PROMETHEUS_IMAGE = "prom/prometheus:v2.53.3";
/** Port redis_exporter serves /metrics on. */
export const EXPORTER_PORT = 9121;
/** Where the backup and restore-drill jobs push their outcome (monitoring/backup.ts). */
export const PUSHGATEWAY_IMAGE = "prom/pushgateway:v1.11.1";
