import { readFileSync } from "node:fs";
import { parseCli } from "../cli.ts";
import { parseMembers } from "../../core/api/members.ts";
import { Gateway } from "./gateway.ts";
import { parseListen } from "../../core/api/listen.ts";

const HELP = `Usage: apid --cert FILE --key FILE --ca FILE [--accepted-ca FILE]... --backend SOCKET
            [--listen HOST:PORT] [--peer-port PORT] [--client-cert FILE --client-key FILE]
            [--members FILE] [--maintenance]

The API gateway: serves the node API over TLS 1.3 on --listen (default 0.0.0.0:50000), requires
a client certificate chaining to the CA in --ca (or an --accepted-ca, for CA rotation) with EKU
clientAuth, takes the caller's roles from the certificate's Subject O, checks the role table and
forwards each call to init's unix socket (--backend) with the roles in x-bunker-roles.

  --maintenance   no client certificate asked; only the maintenance-mode RPCs pass
                  (Version, Hostname, Disks, Memory, LoadAvg, CPUInfo, ApplyConfiguration)

Metadata "node: HOST[:PORT]" relays a call, once checked here, to that node's apid (port
--peer-port, default 50000) with this node's certificate, which must carry EKU clientAuth and
Subject O os:impersonator (--client-cert/--client-key, else --cert/--key); the other node
applies the caller's roles. Only members of the cluster are relayed to: the HOST:PORT lines of
--members (one a line, # comments; init writes it); without it, none.

SIGHUP re-reads every certificate and key file and the member list: renewed certificates
apply to new connections while open streams continue. SIGTERM stops.`;

// Longer than init waits for the listener to close after the first config (3 s): the apply that
// left maintenance mode answers through this apid while it shuts down, so its grace must outlast
// that wait even on a slow machine (the supervisor's SIGKILL comes at 15 s).
const SHUTDOWN_GRACE_MS = 10_000;

export async function main(argv: string[]): Promise<number> {
  const parsed = parseCli("apid", argv, HELP, {
    listen: { type: "string", default: "0.0.0.0:50000" },
    cert: { type: "string" },
    key: { type: "string" },
    ca: { type: "string" },
    "accepted-ca": { type: "string", multiple: true, default: [] },
    backend: { type: "string" },
    maintenance: { type: "boolean", default: false },
    "peer-port": { type: "string", default: "50000" },
    "client-cert": { type: "string" },
    "client-key": { type: "string" },
    members: { type: "string" },
  });
  if (typeof parsed === "number") return parsed;
  const args = parsed.values;
  const missing = ["cert", "key", "backend", ...(args.maintenance ? [] : ["ca"])].filter((k) => !args[k as keyof typeof args]);
  if (missing.length) {
    console.error(`apid: missing ${missing.map((k) => `--${k}`).join(", ")}\n\n${HELP}`);
    return 2;
  }
  const read = () => ({
    cert: readFileSync(args.cert!, "utf8"),
    key: readFileSync(args.key!, "utf8"),
    cas: args.maintenance ? [] : [args.ca!, ...args["accepted-ca"]!].map((f) => readFileSync(f, "utf8")),
    ...(args["client-cert"] && args["client-key"]
      ? { clientCert: readFileSync(args["client-cert"], "utf8"), clientKey: readFileSync(args["client-key"], "utf8") } : {}),
  });

  // SIGHUP is caught from here on: one sent while the listener is being set up (init re-issues the
  // certificate when an address arrives, right after starting apid) is kept for later, not lost.
  let gatewayReady = false;
  let hupWhileStarting = false;
  process.on("SIGHUP", () => { if (gatewayReady) reload(); else hupWhileStarting = true; });

  const peerPortOf = () => Number(args["peer-port"]);
  const readMembers = (): string[] => (args.members ? parseMembers(readFileSync(args.members, "utf8"), args.members, peerPortOf()) : []);
  let gateway: Gateway;
  try {
    const { host, port } = parseListen(args.listen!);
    const peerPort = Number(args["peer-port"]);
    if (!(Number.isInteger(peerPort) && peerPort > 0 && peerPort < 65536)) throw new Error(`--peer-port ${args["peer-port"]}: expected a port number`);
    let members: string[] = [];
    try {
      members = readMembers();
    } catch (err) {
      // The local API matters more than relaying: serve, relay to no one, and say why.
      console.error(`apid: no cluster members (relaying is refused until SIGHUP reads a list): ${(err as Error).message}`);
    }
    gateway = new Gateway({
      host, port, ...read(), backend: args.backend!, maintenance: args.maintenance, peerPort, members,
      onError: (err, where) => console.error(`apid: ${where}: ${err.message}`),
    });
    const addr = await gateway.listen();
    console.error(`apid: listening on ${addr.address}:${addr.port}${args.maintenance ? " (maintenance mode)" : ""}, backend ${args.backend}, ${Math.round(performance.now())} ms after start`);
  } catch (err) {
    console.error(`apid: ${(err as Error).message}`);
    return 1;
  }

  const reload = (): void => {
    try {
      gateway.setCredentials(read());
      console.error("apid: credentials reloaded");
    } catch (err) {
      console.error(`apid: reload failed, keeping the current credentials: ${(err as Error).message}`);
    }
    if (!args.members) return;
    try {
      const members = readMembers();
      gateway.setMembers(members);
      console.error(`apid: cluster members reloaded (${members.length})`);
    } catch (err) {
      console.error(`apid: reading the cluster members failed, keeping the current list: ${(err as Error).message}`);
    }
  };
  gatewayReady = true;
  if (hupWhileStarting) reload();
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  // Calls under way finish first (up to 10 s): after an apply-config that changes apid's mode,
  // init restarts apid, and the ApplyConfiguration answer may still be on its way out through it.
  await gateway.close(SHUTDOWN_GRACE_MS);
  return 0;
}
