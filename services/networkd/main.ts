/**
 * `networkd`: configures links, addresses, routes, DHCP, hostname, resolvers and time from the
 * machine config (layered over defaults and the kernel cmdline), and keeps them so.
 *
 *   bunker networkd --config FILE [--state-dir DIR] [--cmdline FILE] [--interval MS] [--once]
 *   bunker networkd --init-socket PATH [...]     (under init: config from init, status to init)
 */
import { parseCli } from "../cli.ts";
import { existsSync, readFileSync } from "node:fs";
import { Rtnl } from "../../core/netlink/rtnl.ts";
import { NetlinkMonitor } from "../../core/netlink/monitor.ts";
import { slewClock, stepClock, markSynced } from "../../core/sys/clock.ts";
import { loadNetworkConfig } from "./config.ts";
import type { NetworkStatus } from "./types.ts";
import { parseIpArg, parseLinkArgs, type CmdlineLinks } from "./cmdline.ts";
import { DEFAULT_INTERVAL_MS, NetworkController } from "./controller.ts";
import { InitLink, type ConfigSections } from "./initlink.ts";
import { parseNetworkSections } from "../../core/config/config.ts";
import type { NetworkConfig } from "./config.ts";

const HELP = `Usage: networkd [--config FILE | --init-socket PATH] [--state-dir DIR] [options]

Configures the network from the machine config, over defaults (DHCP on every physical link
with carrier) and the kernel command line's ip=, and keeps the kernel in line with it.

Options:
  --config FILE       machine config (YAML); machine.network and machine.time are used
  --init-socket PATH  run under init: watch the config at init (NetworkConfigs) and publish
                      the status into init's store; the hostname is left to init
  --state-dir DIR     writable directory for resolv.conf, hosts and status.json (default /run/network)
  --cmdline FILE      kernel command line to read ip=, bond= and vlan= from (default /proc/cmdline)
  --interval MS       period of the safety-net pass (default 60000); kernel changes start a pass at once
  --once              apply once, print the status as JSON and exit (DHCP not awaited)
  --no-hostname       do not set the kernel hostname
  --no-time           do not synchronise the clock
  --observe           change nothing in the network (links, addresses, routes, DHCP): only
                      observe it and publish the status (a container sharing the host's network)
  -h, --help          this help`;

export async function main(argv: string[]): Promise<number> {
  const parsed = parseCli("networkd", argv, HELP, {
    config: { type: "string" }, "init-socket": { type: "string" }, "state-dir": { type: "string" }, cmdline: { type: "string" }, interval: { type: "string" },
    once: { type: "boolean" }, "no-hostname": { type: "boolean" }, "no-time": { type: "boolean" }, observe: { type: "boolean" },
  });
  if (typeof parsed === "number") return parsed;
  const args = parsed.values;
  const log = (l: string) => console.log(l);
  if (args.config && args["init-socket"]) {
    console.error("networkd: --config and --init-socket exclude each other (under init the config comes from init)");
    return 2;
  }
  let config: NetworkConfig | undefined;
  let link: InitLink | undefined;
  // init checked the config whole (core/config's loadConfig) before it made the resource: the
  // sections arrive typed, with defaults filled in, and are mapped, not checked again.
  const fromInit = (c: ConfigSections): NetworkConfig | undefined => (c ? parseNetworkSections(c) : undefined);
  // Until the controller exists, a change is kept and applied once it does.
  let early: { c: ConfigSections } | undefined;
  let onConfig: (c: ConfigSections) => void = (c) => { early = { c }; };
  if (args["init-socket"]) {
    link = new InitLink({ socket: args["init-socket"], log });
    // init serves its socket before it starts services; the timeout only guards a broken init:
    // the network then comes up from the defaults and the cmdline, and the config follows.
    const watching = link.watchConfig((c) => onConfig(c));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const first = await Promise.race([watching, new Promise<"timeout">((r) => { timer = setTimeout(() => r("timeout"), 30_000); })]);
    clearTimeout(timer);
    if (first === "timeout") {
      log("networkd: no config from init within 30 s; starting from the defaults");
      void watching.then((c) => onConfig(c));
    } else {
      try {
        config = fromInit(first);
      } catch (e) {
        console.error(`networkd: the config from init is refused: ${(e as Error).message}; starting from the defaults`);
      }
    }
  } else if (args.config) {
    try {
      config = await loadNetworkConfig(args.config);
    } catch (e) {
      console.error(`networkd: ${(e as Error).message}`);
      return 1;
    }
  }
  const cmdlineFile = args.cmdline ?? "/proc/cmdline";
  const cmdlineText = existsSync(cmdlineFile) ? readFileSync(cmdlineFile, "utf8") : "";
  let cmdline;
  let cmdlineLinks: CmdlineLinks | undefined;
  try {
    cmdline = parseIpArg(cmdlineText);
  } catch (e) {
    // A bad ip= must not leave the node without network: the defaults still apply.
    console.error(`networkd: ${(e as Error).message}; ignoring it`);
  }
  try {
    cmdlineLinks = parseLinkArgs(cmdlineText);
    for (const w of cmdlineLinks.warnings) console.error(`networkd: ${w}`);
  } catch (e) {
    console.error(`networkd: ${(e as Error).message}; ignoring the bond= and vlan= words`);
  }
  const interval = args.interval ? Number(args.interval) : DEFAULT_INTERVAL_MS;
  if (!Number.isFinite(interval) || interval < 100) {
    console.error("networkd: --interval must be a number of milliseconds >= 100");
    return 2;
  }

  if (args.observe) log("networkd: observing only: links, addresses, routes and DHCP are left as they are");
  const nl = Rtnl.open();
  const monitor = args.once ? undefined : NetlinkMonitor.open();
  const ctl = new NetworkController({
    nl,
    ...(monitor ? { monitor } : {}),
    ...(config ? { config } : {}),
    ...(cmdline ? { cmdline } : {}),
    ...(cmdlineLinks?.bonds.length || cmdlineLinks?.vlans.length ? { cmdlineLinks } : {}),
    stateDir: args["state-dir"] ?? "/run/network",
    intervalMs: interval,
    // Under init, init sets the hostname from what networkd publishes (no CAP_SYS_ADMIN here).
    setHostname: !args["no-hostname"] && !link && !args.observe,
    ...(args.observe ? { observe: true } : {}),
    ...(args["no-time"] || args.once ? {} : { clock: { step: stepClock, slew: slewClock, synced: (ms: number) => markSynced(ms * 1000) } }),
    log,
    ...(link ? { onStatus: (s: NetworkStatus) => link!.publish(s) } : {}),
  });
  onConfig = (c) => {
    let next: NetworkConfig | undefined;
    try {
      next = fromInit(c);
    } catch (e) {
      console.error(`networkd: the new config from init is refused, keeping the current one: ${(e as Error).message}`);
      return;
    }
    log(`networkd: config ${next ? "changed" : "removed"}; applying`);
    config = next;
    void ctl.setConfig(next);
  };
  if (early) onConfig(early.c);
  if (args.once) {
    await ctl.start();
    await ctl.stop();
    await nl.close();
    console.log(JSON.stringify(ctl.status, null, 2));
    return ctl.status?.errors.length ? 1 : 0;
  }
  await ctl.start();
  log(`networkd: running (${ctl.spec?.links.length ?? 0} managed links)`);
  if (config && !config.time.disabled && !args["no-time"]) {
    const timeout = config.time.bootTimeoutMs ?? 120000;
    void ctl.waitTimeSynced(timeout).then((ok) => {
      if (!ok) log(`networkd: warning: time not synchronised within ${timeout} ms; going on`);
    });
  }
  await new Promise<void>((resolve) => {
    const bye = () => resolve();
    process.once("SIGTERM", bye);
    process.once("SIGINT", bye);
  });
  log("networkd: stopping, releasing DHCP leases");
  await ctl.stop({ release: true });
  link?.close();
  await monitor?.close();
  await nl.close();
  return 0;
}
