/**
 * The textual forms of single config values. Each check returns undefined when the value is
 * well-formed, or a message saying what was expected (and, when it helps, what is wrong).
 */
import { cidrError, hasHostBits, parseCIDR, parseIP } from "../ip/ip.ts";

export type FormCheck = (s: string) => string | undefined;

const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, at most 253 chars. */
export const hostname: FormCheck = (s) => {
  if (s.length === 0) return "expected a host name, found an empty string";
  if (s.length > 253) return `expected a host name of at most 253 characters, found ${s.length}`;
  const bad = s.split(".").find((l) => !LABEL.test(l));
  if (bad === undefined) return undefined;
  if (bad === "") return `expected a host name (RFC 1123), found an empty label in "${s}"`;
  if (bad.length > 63) return `expected labels of at most 63 characters, found "${bad}" (${bad.length})`;
  return `expected a host name (RFC 1123: letters, digits and inner hyphens in dot-separated labels), found "${s}"`;
};

/** A DNS name that may start with a `*.` wildcard label (certificate SANs). */
const dnsNameOrWildcard: FormCheck = (s) => hostname(s.startsWith("*.") ? s.slice(2) : s);

export const ip: FormCheck = (s) => (parseIP(s) ? undefined : `expected an IPv4 or IPv6 address, found "${s}"`);

export const cidr: FormCheck = (s) => {
  const why = cidrError(s);
  return why ? `expected an address with a prefix length like 10.5.0.2/24 or fd00::2/64, found "${s}": ${why}` : undefined;
};

/** A route destination: a prefix without host bits (the kernel refuses 10.0.0.5/24 as a route). */
export const routeNetwork: FormCheck = (s) => {
  const bad = cidr(s);
  if (bad) return bad;
  return hasHostBits(parseCIDR(s)!) ? `expected a network prefix with no host bits set, found "${s}"` : undefined;
};

export const ipOrHostname: FormCheck = (s) =>
  parseIP(s) || !hostname(s) ? undefined : `expected an IP address or a host name, found "${s}"`;

export const ipOrDnsName: FormCheck = (s) =>
  parseIP(s) || !dnsNameOrWildcard(s) ? undefined : `expected an IP address or a DNS name, found "${s}"`;

/** Go-style duration as Talos uses it: `30s`, `2m`, `1h30m`, `500ms`. */
const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
export const duration: FormCheck = (s) => (DURATION.test(s) ? undefined : `expected a duration like 30s, 2m or 1h30m (units ns, us, ms, s, m, h), found "${s}"`);

/** Duration in milliseconds; only for strings that passed `duration`. */
export function durationMs(s: string): number {
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6 };
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * unit[m[2]!]!;
  return total;
}

/** The trees under /proc/sys; a key outside them cannot exist. */
export const SYSCTL_TREES = ["abi", "crypto", "debug", "dev", "fs", "kernel", "net", "sunrpc", "user", "vm"];
const SYSCTL_KEY = /^[a-z0-9_]+(\.[A-Za-z0-9_:@+/-]+)+$/;
export const sysctlKey: FormCheck = (s) => {
  if (!SYSCTL_KEY.test(s)) return `expected a sysctl name of dot-separated parts like net.ipv4.ip_forward, found "${s}"`;
  const tree = s.slice(0, s.indexOf("."));
  return SYSCTL_TREES.includes(tree) ? undefined : `expected a sysctl under ${SYSCTL_TREES.join(", ")}, found the tree "${tree}"`;
};

/** A block device path: absolute, under /dev, no `..` or empty parts. */
export const devicePath: FormCheck = (s) => {
  if (!s.startsWith("/dev/")) return `expected an absolute device path under /dev/ like /dev/sda or /dev/disk/by-id/..., found "${s}"`;
  const parts = s.slice(5).split("/");
  if (parts.some((p) => p === "" || p === "." || p === "..") || !/^[A-Za-z0-9._:+@/-]+$/.test(s.slice(5))) {
    return `expected a device path with no empty, "." or ".." parts, found "${s}"`;
  }
  return undefined;
};

/** The places a node can write to (DESIGN.md "Image"): everything else is the read-only SquashFS. */
export const WRITABLE_ROOTS = ["/var", "/system/state", "/run", "/tmp"];
/** Files a config may not replace: the node's own state. */
const RESERVED_FILES = ["/system/state/config.yaml"];

export const writableFilePath: FormCheck = (s) => {
  if (!s.startsWith("/")) return `expected an absolute path, found "${s}"`;
  const parts = s.slice(1).split("/");
  if (parts.some((p) => p === "" || p === "." || p === "..")) return `expected a normalized path (no empty, "." or ".." parts, no trailing /), found "${s}"`;
  if (s.includes("\0")) return "expected a path without NUL characters";
  const root = WRITABLE_ROOTS.find((r) => s.startsWith(r + "/"));
  if (!root) return `expected a path under one of the writable roots ${WRITABLE_ROOTS.join(", ")} (the rest of the file system is read-only), found "${s}"`;
  if (RESERVED_FILES.includes(s)) return `"${s}" holds the node's machine config and cannot be written by a file entry`;
  return undefined;
};

/** A kernel command line argument: one word, no spaces or quotes. */
export const kernelArg: FormCheck = (s) => (/^[^\s"']+$/.test(s) ? undefined : `expected one kernel argument without spaces or quotes like console=ttyS0, found "${s}"`);

/** The join token, `[a-z0-9]{6}.[a-z0-9]{16}` like a kubeadm bootstrap token. */
export const token: FormCheck = (s) => (/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(s) ? undefined : `expected a token of 6 and 16 lower-case letters or digits joined by a dot (like abcdef.0123456789abcdef), found ${s.length} characters`);

/** base64 of exactly 32 bytes (cluster id and secret). */
export const base64Of32Bytes: FormCheck = (s) => {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(s) || s.length % 4 !== 0) return "expected base64 of 32 random bytes, found text that is not base64";
  const n = Buffer.from(s, "base64").length;
  return n === 32 ? undefined : `expected base64 of 32 bytes, found ${n} bytes`;
};

export const clusterName: FormCheck = (s) => (/^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/.test(s) ? undefined : `expected a cluster name of 1-63 letters, digits, ".", "_" or "-" (starting and ending with a letter or digit), found "${s}"`);

/** Parses a URL without throwing. */
export function parseURL(s: string): URL | undefined {
  try { return new URL(s); } catch { return undefined; }
}

/** The control plane endpoint: `https://HOST:PORT` with nothing after the port but an optional `/`. */
export const httpsEndpoint: FormCheck = (s) => {
  const u = parseURL(s);
  const want = `expected an https URL with a host and a port like https://10.5.0.2:50000, found "${s}"`;
  if (!u || u.protocol !== "https:") return want;
  if (!u.hostname) return `${want}: the host is missing`;
  if (!/:\d+(\/)?$/.test(s)) return `${want}: the port is missing`;
  if (u.username || u.password || u.search || u.hash || (u.pathname !== "/" && u.pathname !== "")) return `${want}: nothing may follow the port`;
  return undefined;
};

/** A log destination: `udp://HOST:PORT` or `tcp://HOST:PORT`. */
export const logEndpoint: FormCheck = (s) => {
  const u = parseURL(s);
  const want = `expected udp://HOST:PORT or tcp://HOST:PORT, found "${s}"`;
  if (!u || (u.protocol !== "udp:" && u.protocol !== "tcp:") || !u.hostname || !u.port) return want;
  // What core/logship can send to (its parseEndpoint): a real port, and nothing after it.
  if (Number(u.port) < 1 || (u.pathname && u.pathname !== "/") || u.search || u.username) return want;
  return undefined;
};

/** An upgrade image location: empty (no image) or an http(s) URL. */
export const imageURL: FormCheck = (s) => {
  if (s === "") return undefined;
  const u = parseURL(s);
  return u && (u.protocol === "https:" || u.protocol === "http:") && u.hostname ? undefined : `expected an http(s) URL of an image or "", found "${s}"`;
};

/** Disk size condition for a disk selector: `[op] NUMBER UNIT`, e.g. `>= 10GB`, `<= 2TiB`, `64GB`. */
const SIZE = /^\s*(>=|<=|>|<|==)?\s*(\d+(\.\d+)?)\s*(B|kB|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$/;
export const sizeCondition: FormCheck = (s) => (SIZE.test(s) ? undefined : `expected a size condition like ">= 10GB", "<= 2TiB" or "64GB", found "${s}"`);

/** A value that must fit on one line of a text file (sysctl values). */
export const oneLine: FormCheck = (s) => (/[\n\r\0]/.test(s) ? "expected a value on one line (no newline or NUL)" : undefined);

/** Network interface names: what the kernel accepts (1-15 chars, no "/" or spaces). */
export const linkName: FormCheck = (s) => (/^[A-Za-z0-9_.:-]{1,15}$/.test(s) && s !== "." && s !== ".." ? undefined : `expected an interface name of 1-15 characters (letters, digits, "_", ".", ":", "-"), found "${s}"`);

/**
 * What JSON Schema can say about a form, for editors (jsonschema.ts). Forms without an entry are
 * exported as plain strings: the loader still checks them.
 */
export const JSON_SCHEMA_HINTS = new Map<FormCheck, Record<string, unknown>>([
  [hostname, { format: "hostname", maxLength: 253 }],
  [ip, { anyOf: [{ format: "ipv4" }, { format: "ipv6" }] }],
  [cidr, { pattern: "^[0-9A-Fa-f:.]+/[0-9]{1,3}$" }],
  [routeNetwork, { pattern: "^[0-9A-Fa-f:.]+/[0-9]{1,3}$" }],
  [duration, { pattern: DURATION.source }],
  [sysctlKey, { pattern: SYSCTL_KEY.source }],
  [devicePath, { pattern: "^/dev/[^\\s]+$" }],
  [writableFilePath, { pattern: `^(${WRITABLE_ROOTS.join("|")})/` }],
  [kernelArg, { pattern: "^[^\\s\"']+$" }],
  [token, { pattern: "^[a-z0-9]{6}\\.[a-z0-9]{16}$" }],
  [base64Of32Bytes, { pattern: "^[A-Za-z0-9+/]{43}=$" }],
  [httpsEndpoint, { pattern: "^https://[^/]+:[0-9]+/?$" }],
  [logEndpoint, { pattern: "^(udp|tcp)://[^/]+:[0-9]+/?$" }],
  [sizeCondition, { pattern: SIZE.source }],
  [linkName, { pattern: "^[A-Za-z0-9_.:-]{1,15}$" }],
]);
