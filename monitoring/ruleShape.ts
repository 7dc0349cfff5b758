// The shape of an alert rule, and what rules.ts hands the renderers of its optional groups (slo.ts, backup.ts). Its own
// file because rules.ts imports those renderers, so they cannot import rules.ts.

export interface AlertRuleOf<Name extends string, Severity extends string> {
  alert: Name;
  expr: string;
  for?: string;
  labels: { severity: Severity; job: string } & Record<string, string>;
  annotations: { summary: string; description: string; runbook_url: string } & Record<string, string>;
}

export interface RuleContext<Name extends string> {
  /** The cluster's job: set as `job` on every alert, like every other alert of the cluster. */
  clusterJob: string;
  runbookUrl: (alert: Name) => string;
  /** Seconds -> `for:` duration, scaled like the other alerts'. */
  forOf: (seconds: number) => string;
}
