// Time helpers shared by the product's Node code (smoke test, scale step) and everything built on it.

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
