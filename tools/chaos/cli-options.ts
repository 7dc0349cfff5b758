// The two schedules: the short one of `npm test` and the full one of `npm run chaos`.
import type { ChaosOptions } from "./run";
import { FAULTS } from "./nemesis";

/** About a minute: a shorter cluster-node-timeout than dev's so failovers fit, three faults. */
export const SHORT: ChaosOptions = { overrides: { nodeTimeoutMs: 2000 }, faults: ["partition-master", "kill-master"] };
/** Every fault with the dev stack's settings, repeated while the run time allows. */
export const FULL: ChaosOptions = { faults: FAULTS };
