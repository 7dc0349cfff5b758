// A one-resource program: the runtime floor of the preview bench (tools/bench/preview.ts) and the engine self-test
// (an output that only exists after create: preview must not run the apply; up must).
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

const pw = new random.RandomPassword("pw", { length: 20, special: false });
export const seen = pw.result.apply((r) => {
  pulumi.log.info(`apply ran with ${r.length} characters`);
  return r.length;
});
export const config = new pulumi.Config().get("note");
