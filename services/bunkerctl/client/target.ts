/**
 * Where a remote command goes and as whom: the bunkerconfig context (file from --bunkerconfig,
 * else $BUNKERCONFIG, else ~/.bunker/config; context from --context, else the current one),
 * overridden by -e/--endpoints and -n/--nodes; with --insecure (maintenance mode) no client
 * certificate and no server verification. Pure but for reading the file.
 */
import { existsSync } from "node:fs";
import { loadClientConfig, type ClientConfig } from "../../../core/clientconfig/clientconfig.ts";

export const DEFAULT_API_PORT = 50000;

export interface TargetFlags {
  bunkerconfig?: string;
  context?: string;
  endpoints?: string[];
  nodes?: string[];
  insecure?: boolean;
}

export interface Target {
  /** The context used ("" when none: --insecure with -e or -n). */
  context: string;
  /** The config file read, or undefined when none was needed. */
  configPath: string | undefined;
  /** "host:port" to dial, in order of preference. */
  endpoints: string[];
  /** Nodes to address (metadata `node`); empty means the endpoint itself. */
  nodes: string[];
  insecure: boolean;
  /** With --insecure: the SHA-256 of the certificate the node must present (--fingerprint). */
  pinSha256?: Buffer;
  /** PEM. Absent with --insecure. */
  ca?: string;
  cert?: string;
  key?: string;
}

/** A problem with the client config or the flags naming the target (exit code 3). */
export class ConfigError extends Error {}

/** Splits "a,b" and repeated flags into one list without blanks. */
export function splitList(values: readonly string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(",")).map((s) => s.trim()).filter((s) => s !== "");
}

/**
 * "host:port" from an endpoint as written in configs and flags: "10.0.0.2", "node1:50001",
 * "::1", "[::1]:50000", "https://10.0.0.2:6443" (the scheme and a path are dropped; a port in a
 * URL is kept). Throws on empty or malformed input.
 */
export function normalizeEndpoint(raw: string, defaultPort = DEFAULT_API_PORT): string {
  let s = raw.trim();
  if (s === "") throw new ConfigError("empty endpoint");
  const url = /^[a-z][a-z0-9+.-]*:\/\/([^/]*)/i.exec(s);
  if (url) s = url[1]!;
  let host: string;
  let port: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) {
    host = bracket[1]!;
    port = bracket[2];
  } else if ((s.match(/:/g) ?? []).length > 1) {
    host = s; // a bare IPv6 address
  } else {
    const m = /^([^:]+)(?::(\d+))?$/.exec(s);
    if (!m) throw new ConfigError(`endpoint ${JSON.stringify(raw)} is not HOST or HOST:PORT`);
    host = m[1]!;
    port = m[2];
  }
  const p = port === undefined ? defaultPort : Number(port);
  if (!(Number.isInteger(p) && p > 0 && p < 65536)) throw new ConfigError(`endpoint ${JSON.stringify(raw)}: port must be 1-65535`);
  if (!/^[A-Za-z0-9.:%_-]+$/.test(host)) throw new ConfigError(`endpoint ${JSON.stringify(raw)}: "${host}" is not a host name or address`);
  return `${host.includes(":") ? `[${host}]` : host}:${p}`;
}

const pem = (b64: string) => Buffer.from(b64, "base64").toString("utf8");

/**
 * The target of a remote command. `configPath` is where the bunkerconfig is (already resolved
 * from flag, environment and home). With --insecure a missing file is fine when -e or -n says
 * where to go.
 */
export function resolveTarget(flags: TargetFlags, configPath: string): Target {
  const insecure = flags.insecure === true;
  const endpointsFlag = splitList(flags.endpoints);
  const nodesFlag = splitList(flags.nodes);
  let config: ClientConfig | undefined;
  if (!insecure || existsSync(configPath) || (endpointsFlag.length === 0 && nodesFlag.length === 0)) {
    try {
      config = loadClientConfig(configPath);
    } catch (e) {
      const missing = !existsSync(configPath);
      throw new ConfigError(missing
        ? `no client config at ${configPath}: create one with "bunkerctl gen config" and "bunkerctl config merge", point --bunkerconfig or $BUNKERCONFIG at one, or use --insecure -n NODE for a node in maintenance mode`
        : (e as Error).message);
    }
  }
  let name = "";
  let ctx = undefined as ClientConfig["contexts"][string] | undefined;
  if (config) {
    name = flags.context ?? config.context;
    ctx = config.contexts[name];
    if (flags.context !== undefined && !ctx) {
      throw new ConfigError(`no context "${flags.context}" in ${configPath}; known: ${Object.keys(config.contexts).join(", ") || "none"}`);
    }
    if (!ctx && !insecure) {
      const names = Object.keys(config.contexts);
      throw new ConfigError(names.length
        ? `no current context in ${configPath}; choose one of ${names.join(", ")} with --context NAME or "bunkerctl config context NAME"`
        : `the client config ${configPath} has no contexts; create one with "bunkerctl gen config" and "bunkerctl config merge"`);
    }
  }
  // A node in maintenance mode relays nothing: with --insecure the context's default nodes would
  // only make it refuse ("does not proxy to other nodes"), so only -n names nodes then.
  const nodes = nodesFlag.length ? nodesFlag : insecure ? [] : (ctx?.nodes ?? []);
  let endpoints = endpointsFlag.length ? endpointsFlag : (ctx?.endpoints ?? []);
  // In maintenance mode nothing relays: every node is dialled itself.
  if (insecure && endpointsFlag.length === 0 && nodesFlag.length > 0) endpoints = nodesFlag;
  if (endpoints.length === 0) {
    throw new ConfigError(`no endpoint to connect to: give -e/--endpoints ADDRESS${name ? ` or set the context's with "bunkerctl config endpoint ADDRESS"` : ""}`);
  }
  const target: Target = {
    context: ctx ? name : "",
    configPath: config ? configPath : undefined,
    endpoints: endpoints.map((e) => normalizeEndpoint(e)),
    nodes,
    insecure,
  };
  if (insecure) return target;
  if (!ctx!.ca) throw new ConfigError(`context "${name}" has no CA certificate (ca) to verify the node with; regenerate it with "bunkerctl gen config"`);
  if (!ctx!.crt || !ctx!.key) {
    throw new ConfigError(`context "${name}" has no client certificate: generate one with "bunkerctl gen config" (or ask an admin for one), or use --insecure for a node in maintenance mode`);
  }
  return { ...target, ca: pem(ctx!.ca), cert: pem(ctx!.crt), key: pem(ctx!.key) };
}

/** Is `node` the endpoint itself (then no relaying is needed)? */
export function sameHost(node: string, endpoint: string): boolean {
  try {
    return normalizeEndpoint(node) === endpoint;
  } catch {
    return false;
  }
}
