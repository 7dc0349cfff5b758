// The restore's marker key: written before a restore's first key, deleted once its counts verified. While it exists
// the cluster holds part of a snapshot: a restore of the same snapshot resumes (./restore.ts), a backup refuses
// (./backup.ts), so a half-restored dataset never becomes a good-looking snapshot.
import calculateSlot from "cluster-key-slot";
import type { LiveCluster, Survey } from "../scale/survey";
import { masters } from "./preflight";

export const MARKER_KEY = "redis-cluster:restore-in-progress";

/** Where an unfinished restore is finished: the runbook section a refusal names. */
export const RESTORE_RUNBOOK = "docs/runbooks.md#restore-in-place-from-a-backup";

/** The snapshot id the marker holds (read on the master that owns its slot), or null when no restore is unfinished. */
export async function restoreMarker(live: LiveCluster, s: Survey): Promise<string | null> {
  const at = masters(s).find((m) => m.slots.includes(calculateSlot(MARKER_KEY)));
  return at ? await live.conn(at.addr).get(MARKER_KEY) : null;
}
