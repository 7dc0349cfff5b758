import { isIP } from "node:net";
import { Address4, Address6 } from "ip-address";

// CIDR blocks: the config's source and pod ranges, the NetworkPolicy's ipBlocks, and the pods runner's checks of
// both (the testbed imports these; one parser for the whole project).

/** A block as ip-address holds it (network address, prefix in subnetMask). */
export type Block = Address4 | Address6;

/** The address and prefix of an IPv4/IPv6 CIDR, or why it is not one (host bits set included: likely a typo). */
export function parseCidr(cidr: string): { address: string; prefix: number; family: 4 | 6 } | { problem: string } {
  // An explicit prefix: ip-address alone would read "10.0.0.1" as a /32.
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
  const family = m ? isIP(m[1]) : 0;
  if (!m || family === 0) return { problem: "must be a CIDR like 203.0.113.0/24 or 2001:db8::/32" };
  const prefix = Number(m[2]);
  const bits = family === 4 ? 32 : 128;
  if (prefix > bits) return { problem: `has prefix /${prefix}; an IPv${family} prefix is at most /${bits}` };
  const block = blockOf(cidr);
  const network = block.startAddress();
  if (network.bigInt() !== block.bigInt()) {
    return { problem: `has host bits set; write the network ${network.correctForm()}/${prefix}, or ${m[1]}/${bits} for that one address` };
  }
  return { address: m[1], prefix, family: family as 4 | 6 };
}

/** Why `cidr` is no CIDR, or undefined. */
export function cidrProblem(cidr: string): string | undefined {
  const r = parseCidr(cidr);
  return "problem" in r ? r.problem : undefined;
}

/** The block of a CIDR parseCidr accepts. */
export function blockOf(cidr: string): Block {
  return isIP(cidr.slice(0, cidr.indexOf("/"))) === 4 ? new Address4(cidr) : new Address6(cidr);
}

/** Whether every address of `inner` lies in `outer` (equal blocks included; never across IPv4 and IPv6). */
export function cidrWithin(inner: string, outer: string): boolean {
  const [i, o] = [blockOf(inner), blockOf(outer)];
  // Address6's v4 flag marks an embedded IPv4 tail, not the family.
  return i instanceof Address4 === o instanceof Address4 && i.isInSubnet(o);
}
