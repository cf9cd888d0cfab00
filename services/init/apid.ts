/**
 * apid as a service of init: an unprivileged process (uid 50 on a node; no capabilities, no new
 * privileges, through exec-helper) serving the API on TCP and forwarding to init's socket. init
 * owns its certificates (apicerts.ts): the pre-start step writes them for the current config and
 * picks apid's mode, so a restart after the first config leaves maintenance mode.
 */
import { connect } from "node:net";
import { pidAlive } from "../../core/sys/process.ts";
import { builtName } from "../names.ts";
import { selfCommand } from "../../core/sys/self.ts";
import type { ApiCertificates, ApidMode } from "./apicerts.ts";
import type { ServiceSpec } from "./service.ts";
import { parseListen } from "../../core/api/listen.ts";

/** apid's uid and gid on a node (the rootfs passwd names it `apid`). */
export const APID_UID = 50;

/**
 * apid's cgroup memory limit on a node. It idles near 55 MB and holds 1,000 `logs -f` streams in
 * under 80 MB; its request buffers are capped (core/grpc) at 32 MiB. A flood that still got past
 * those costs apid a restart, never the node's memory.
 */
export const APID_MEMORY_MAX = 256 * 1024 * 1024;

export interface ApidPlan {
  listen: string;
  socket: string;
  certs: ApiCertificates;
  /** The cluster member list init writes for apid (apidmembers.ts); relaying goes nowhere else. */
  members?: string;
  /** Unset: apid runs as init's own user (container mode without root). */
  uid?: number;
  gid?: number;
  dependsOn?: string[];
  /** On a node: keep apid alive under memory pressure (container mode leaves the host's setting alone). */
  oomScoreAdj?: number;
  /** Issues the certificates for the current config; returns apid's mode. */
  prepare: () => ApidMode;
}

/** apid's command line; argv0 "apid" picks the personality (see table.ts). */
export function apidArgv(p: ApidPlan, mode: ApidMode): string[] {
  const c = p.certs;
  return [
    ...selfCommand(), "--listen", p.listen, "--backend", p.socket, "--cert", c.path("cert"), "--key", c.path("key"),
    ...(mode === "maintenance" ? ["--maintenance"] : ["--ca", c.path("ca")]),
    ...(mode === "controlplane" ? ["--client-cert", c.path("clientCert"), "--client-key", c.path("clientKey")] : []),
    ...(mode !== "maintenance" && p.members ? ["--members", p.members] : []),
  ];
}

export function apidService(p: ApidPlan): ServiceSpec {
  const privileged = p.uid !== undefined;
  const spec: ServiceSpec = {
    id: "apid", description: `the mTLS API gateway on ${p.listen}`,
    dependsOn: p.dependsOn ?? [],
    skip: () => (builtName("apid") ? undefined : "personality apid is not built into this binary"),
    preStart: () => { spec.runner.argv = apidArgv(p, p.prepare()); },
    runner: {
      argv: apidArgv(p, "maintenance"), argv0: "apid", noNewPrivs: true, oomScoreAdj: p.oomScoreAdj,
      // Dropping the capability bounding set needs CAP_SETPCAP: only when init runs as root.
      ...(privileged ? { uid: p.uid, gid: p.gid, capabilities: [] } : {}),
    },
    stopGraceMs: 15_000,
    memoryMax: APID_MEMORY_MAX,
  };
  return spec;
}

/**
 * Resolves once the process `pid` no longer accepts connections on `listen` (HOST:PORT as apid
 * takes it; a wildcard host is probed on loopback): its listener is closed (connections refused)
 * or the process is gone. Bounded by `timeoutMs`; says which it was. After the first config,
 * init waits for this before the apply's answer leaves, so the listener that asked for no
 * certificate has stopped by the time the caller learns the config was taken.
 */
export async function listenerClosed(listen: string, pid: number | undefined, timeoutMs: number): Promise<"closed" | "exited" | "timeout"> {
  let addr: { host: string; port: number };
  try { addr = parseListen(listen); } catch { return "closed"; } // apid could not have listened there
  const host = addr.host === "0.0.0.0" ? "127.0.0.1" : addr.host === "::" ? "::1" : addr.host;
  const port = addr.port;
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!pidAlive(pid)) return "exited";
    const accepted = await new Promise<boolean>((resolve) => {
      const c = connect({ host, port });
      // No answer in time counts as still accepting (a slow guest must not pass for closed).
      const t = setTimeout(() => { c.destroy(); resolve(true); }, 500);
      c.once("connect", () => { clearTimeout(t); c.destroy(); resolve(true); });
      c.once("error", () => { clearTimeout(t); resolve(false); });
    });
    if (!accepted) return "closed";
    await new Promise((r) => setTimeout(r, 10));
  }
  return "timeout";
}
