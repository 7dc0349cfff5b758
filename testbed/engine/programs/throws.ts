// A program that fails with an unexpected error (not a RunError) while it loads, after declaring a resource: how
// Pulumi's runner reports it under the repository's loader (test/infra/typescriptLoader.test.ts).
import * as random from "@pulumi/random";

new random.RandomPassword("pw", { length: 20, special: false });
throw new Error("the program failed on purpose");
