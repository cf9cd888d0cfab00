/**
 * The console banner of a node: once the node is up (maintenance or running), init prints where
 * it can be reached and what the operator should do next. On a machine with no shell and no ssh
 * the console is the only thing a person sees, so it must answer "what now?" without docs.
 * Printed again whenever the stage or the node's global addresses change (a DHCP lease arriving
 * after boot, apply-config ending maintenance), never twice for the same state.
 */
import { ADDRESS_STATUSES, type AddressStatusSpec } from "../../core/netresources/kinds.ts";
import type { Store } from "../../core/resources/index.ts";
import { compactFingerprint, opensslFingerprint } from "../../core/pki/fingerprint.ts";
import { MACHINE_STAGE, type MachineStageSpec } from "./resources.ts";
import { systemClock, type Cancel, type Clock } from "../../core/time/clock.ts";

export interface BannerState {
  stage: string;
  /** Addresses with their prefix length, e.g. "10.0.2.15/24", and the link they are on. */
  addresses: { link: string; address: string }[];
  /** Where apid listens, "HOST:PORT" (0.0.0.0 means every address). */
  listen: string;
  /** Maintenance: SHA-256 of apid's self-signed certificate, hex (the operator checks it before sending a config). */
  fingerprint?: string;
}

/** The banner's lines (without the log prefix). Pure, for tests. */
export function bannerLines(s: BannerState): string[] {
  const port = s.listen.slice(s.listen.lastIndexOf(":") + 1);
  const host = s.listen.slice(0, s.listen.lastIndexOf(":"));
  const wildcard = host === "0.0.0.0" || host === "[::]";
  const first = s.addresses[0]?.address.split("/")[0];
  // The address an operator dials: the first global address when apid listens on all of them.
  const reach = wildcard ? first : host.replace(/^\[|\]$/g, "");
  const hp = (h: string) => (h.includes(":") ? `[${h}]:${port}` : `${h}:${port}`);
  const lines = [`==== node ${s.stage === "maintenance" ? "in maintenance mode" : s.stage} ====`];
  lines.push(s.addresses.length > 0 ? `addresses: ${s.addresses.map((a) => `${a.link} ${a.address}`).join(", ")}` : "addresses: none yet (waiting for DHCP or a static address)");
  lines.push(`API: apid listens on ${s.listen}${reach ? ` (reach it as ${hp(reach)})` : ""}`);
  const ep = hp(reach ?? "NODE-ADDRESS");
  if (s.stage === "maintenance") {
    const fp = s.fingerprint ? Buffer.from(s.fingerprint, "hex") : undefined;
    if (fp) {
      // No CA vouches for this certificate: whoever reads the console can tell it from an impostor's.
      lines.push(`certificate: SHA-256 fingerprint ${opensslFingerprint(fp)}`);
      lines.push(`             ${compactFingerprint(fp)}`);
    }
    lines.push(`next: no machine config yet. From a workstation${fp ? " (--fingerprint refuses any other certificate)" : ""}:`);
    lines.push(`  bunkerctl gen config CLUSTER https://${ep}`);
    lines.push(`  bunkerctl apply-config --insecure -e ${ep} -f controlplane.yaml${fp ? ` --fingerprint ${compactFingerprint(fp)}` : ""}`);
  } else if (s.stage === "running") {
    lines.push("next: from a workstation, with the bunkerconfig written by `bunkerctl gen config`:");
    lines.push(`  export BUNKERCONFIG=$PWD/bunkerconfig; bunkerctl config endpoint ${ep}`);
    lines.push("  bunkerctl version; bunkerctl services; bunkerctl get addresses");
  }
  return lines;
}

/** The global addresses of the store's AddressStatuses (no loopback, no link-local), sorted. */
export function globalAddresses(store: Store): { link: string; address: string }[] {
  return store
    .list<AddressStatusSpec>(ADDRESS_STATUSES)
    .map((r) => r.spec)
    .filter((a) => a.scope === "global" && a.link !== "lo")
    .sort((a, b) => a.family - b.family || a.link.localeCompare(b.link) || a.address.localeCompare(b.address))
    .map((a) => ({ link: a.link, address: a.address }));
}

/**
 * Watches the stage and the addresses and prints the banner through `print` (one call per line)
 * when they settle: `settleMs` after the last change, so a DHCP lease and its routes give one
 * banner, not several, on `clock` (tests move a ManualClock). Returns the function that stops watching.
 */
export function watchBanner(store: Store, listen: string, print: (line: string) => void, settleMs = 1500, fingerprint?: () => Uint8Array | undefined, clock: Clock = systemClock): () => void {
  let last = "";
  let timer: Cancel | undefined;
  const show = () => {
    timer = undefined;
    const stage = store.get<MachineStageSpec>(MACHINE_STAGE)?.spec.stage ?? "booting";
    if (stage !== "maintenance" && stage !== "running") return;
    const fp = stage === "maintenance" ? fingerprint?.() : undefined;
    const state: BannerState = { stage, addresses: globalAddresses(store), listen, ...(fp ? { fingerprint: Buffer.from(fp).toString("hex") } : {}) };
    const key = JSON.stringify(state);
    if (key === last) return;
    last = key;
    for (const l of bannerLines(state)) print(l);
  };
  const changed = () => {
    timer?.();
    timer = clock.setTimeout(show, settleMs);
  };
  const stops = [store.watch(MACHINE_STAGE, changed, { tailOnly: true }), store.watch(ADDRESS_STATUSES, changed, { tailOnly: true })];
  return () => {
    timer?.();
    for (const s of stops) s();
  };
}
