import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { loadClientConfig, saveClientConfig, type ClientConfig } from "../../../core/clientconfig/clientconfig.ts";
import { nodeConfigs } from "../../../core/cluster/configs.ts";
import { createContainerCluster, consoleLog } from "../../../core/cluster/container.ts";
import { createQemuCluster, imageFiles } from "../../../core/cluster/qemu.ts";
import { parseFingerprint } from "../../../core/pki/fingerprint.ts";
import { GrpcError, reasonOf, Status } from "../../../core/grpc/status.ts";
import { REASON } from "../../../core/errors.ts";
import { destroyCluster } from "../../../core/cluster/destroy.ts";
import { planCluster, PlanError } from "../../../core/cluster/plan.ts";
import { defaultStateRoot, saveState, type ClusterState } from "../../../core/cluster/state.ts";
import { loadPatchArg, type Patch } from "../../../core/configpatch/patch.ts";
import { generateSecrets, secretsToYaml } from "../../../core/secrets/secrets.ts";
import { selfCommand } from "../../../core/sys/self.ts";
import { BUNKERCONFIG_HELP, BUNKERCONFIG_OPTION, clientConfigPath, fail, parseCommandArgs, usageError } from "../args.ts";
import { Api } from "../client/api.ts";
import { resolveTarget } from "../client/target.ts";
import { bootstrapEtcd, checkCluster, HealthTimeout } from "../client/clusterhealth.ts";
import { EXIT } from "../client/exitcodes.ts";
import { parseDuration } from "../client/output.ts";
import { formatTable } from "../../../core/format/table.ts";

const HELP = `Usage: bunkerctl cluster create [--name NAME] [--controlplanes N] [--workers N] [options]

Creates a local cluster for trying Bunker and for tests, as root:
  --provisioner container   each node is "bunker init --mode=container" in its own network
                            namespace, on a bridge in a namespace of the cluster's own; the
                            host reaches the control planes through port forwards on 127.0.0.1.
  --provisioner qemu        each node is a VM booted from the image (--image), its NIC a tap on
                            that bridge (QEMU runs inside the namespace), its address from
                            dnsmasq there; it boots into maintenance mode and its config is
                            applied through the API, to the certificate its console printed.
Nothing the cluster runs can send traffic outside its namespaces. The configs are generated as
"gen config" does (the endpoint is the first control plane), each node gets its hostname, its
address and the list of control planes, and the operator's patches apply on top.

Everything lives in one folder per cluster (--state DIR/NAME): state.json, the configs, the
client config, each node's state directory and console log. The client config's context is
named after the cluster, merged into --bunkerconfig (replacing a context of that name) and made
current. "bunkerctl cluster destroy --name NAME" removes all of it, even after a crash.

Options:
  --name NAME                    the cluster's name (default bunker): hostnames NAME-controlplane-1...
  --provisioner container|qemu   how nodes run (default qemu where qemu-system-x86_64 is installed)
  --image DIR                    qemu: the built image (vmlinuz, initramfs.zst; default out/image)
  --accel tcg|kvm                qemu: the accelerator (default tcg)
  --controlplanes N              control-plane nodes (default 1)
  --workers N                    worker nodes (default 1)
  --cidr CIDR                    the cluster network (default 10.5.0.0/24; nodes from .2)
  --memory SIZE                  qemu: each VM's memory (default 512MiB); containers share the host's
  --config-patch P               patch every node's config (repeatable; as gen config)
  --config-patch-controlplane P  patch the control planes' configs (repeatable)
  --config-patch-worker P        patch the workers' configs (repeatable)
  --no-bootstrap                 leave etcd for "bunkerctl bootstrap" (by default the first control
                                 plane starts it where etcd runs, and the others join it); --wait
                                 then checks everything but etcd
  --wait                         wait until "health" passes, showing each check
  --wait-timeout DURATION        how long --wait waits (default 10m)
  --state DIR                    where clusters live (default $BUNKER_CLUSTERS, else /var/lib/bunker/clusters)
${BUNKERCONFIG_HELP}

Exit codes: 0 created (and healthy with --wait); 1 not created (nothing is left behind);
2 usage; 6 created but not healthy within --wait-timeout (the cluster is kept, to look at).

Example:
  bunkerctl cluster create --controlplanes 3 --workers 1 --wait`;

/** Every ancestor of `dir` must let other users through (x): the nodes' services run as their own uids. */
function unreachableAncestor(dir: string): string | undefined {
  for (let d = resolve(dir); ; d = dirname(d)) {
    if (existsSync(d) && (statSync(d).mode & 0o001) === 0) return d;
    if (d === dirname(d)) return undefined;
  }
}

export async function run(argv: string[]): Promise<number> {
  const a = parseCommandArgs(argv, HELP, {
    name: { type: "string" }, provisioner: { type: "string" }, controlplanes: { type: "string" }, workers: { type: "string" },
    cidr: { type: "string" }, memory: { type: "string" }, image: { type: "string" }, accel: { type: "string" },
    "config-patch": { type: "string", multiple: true }, "config-patch-controlplane": { type: "string", multiple: true }, "config-patch-worker": { type: "string", multiple: true },
    wait: { type: "boolean" }, "no-bootstrap": { type: "boolean" }, "wait-timeout": { type: "string" }, state: { type: "string" }, ...BUNKERCONFIG_OPTION,
  }, [0, 0]);
  if (typeof a === "number") return a;
  const v = a.values;
  const provisioner = v.provisioner ?? (Bun.which("qemu-system-x86_64") ? "qemu" : "container");
  if (provisioner !== "container" && provisioner !== "qemu") return usageError(HELP, `--provisioner ${provisioner}: expected container or qemu`);
  const memoryMiB = v.memory === undefined ? 512 : parseMiB(v.memory);
  if (memoryMiB === undefined || memoryMiB < 256) return usageError(HELP, `--memory ${v.memory}: expected a size of at least 256MiB, such as 512MiB or 1GiB`);
  if (v.accel !== undefined && v.accel !== "tcg" && v.accel !== "kvm") return usageError(HELP, `--accel ${v.accel}: expected tcg or kvm`);
  const waitMs = parseDuration(v["wait-timeout"] ?? "10m");
  if (waitMs === undefined || waitMs <= 0) return usageError(HELP, `--wait-timeout ${v["wait-timeout"]}: expected a duration such as 30s or 10m`);
  const count = (flag: "controlplanes" | "workers", dflt: number) => (v[flag] === undefined ? dflt : /^[0-9]+$/.test(v[flag]!) ? Number(v[flag]) : NaN);
  let plan;
  try {
    plan = planCluster({ name: v.name ?? "bunker", cidr: v.cidr ?? "10.5.0.0/24", controlplanes: count("controlplanes", 1), workers: count("workers", 1) });
  } catch (e) {
    if (e instanceof PlanError) return usageError(HELP, e.message);
    throw e;
  }
  if (process.getuid?.() !== 0) { console.error("error: cluster create needs root: it makes network namespaces, a bridge and veth pairs, and runs each node's services as their own users"); return EXIT.FAILED; }
  if (!Bun.which("ip")) { console.error("error: cluster create needs iproute2's ip (apt-get install iproute2)"); return EXIT.FAILED; }
  let patches: { all: Patch[]; cp: Patch[]; w: Patch[] };
  try {
    const load = (l: string[] | undefined) => (l ?? []).flatMap((p) => loadPatchArg(p));
    patches = { all: load(v["config-patch"]), cp: load(v["config-patch-controlplane"]), w: load(v["config-patch-worker"]) };
  } catch (e) {
    return fail(e);
  }
  const root = v.state ?? defaultStateRoot();
  const dir = join(root, plan.name);
  if (existsSync(dir)) { console.error(`error: cluster ${plan.name} exists (${dir}): destroy it first with bunkerctl cluster destroy --name ${plan.name}`); return EXIT.FAILED; }
  const closed = unreachableAncestor(root);
  if (closed) { console.error(`error: ${closed} is closed to other users (mode ${(statSync(closed).mode & 0o777).toString(8)}), so the nodes' services (apid as uid 50, ...) could not reach their folders under ${root}: choose --state elsewhere (the default is /var/lib/bunker/clusters) or chmod o+x ${closed}`); return EXIT.FAILED; }

  const secrets = generateSecrets();
  let configs;
  try {
    configs = nodeConfigs({ plan, secrets, mode: provisioner, patches: patches.all, patchesControlplane: patches.cp, patchesWorker: patches.w });
  } catch (e) {
    return fail(e);
  }
  mkdirSync(root, { recursive: true, mode: 0o755 });
  mkdirSync(dir, { mode: 0o711 });
  let image;
  if (provisioner === "qemu") {
    try { image = imageFiles(v.image ?? "out/image"); } catch (e) { return fail(e); }
  }
  const state: ClusterState = { provisioner, plan, createdAt: new Date().toISOString(), nodes: [] };
  saveState(dir, state);
  for (const [name, text] of [["controlplane.yaml", configs.controlplaneYaml], ["worker.yaml", configs.workerYaml], ["secrets.yaml", secretsToYaml(secrets)]] as const) {
    writeFileSync(join(dir, name), text, { mode: 0o600 });
  }
  console.log(`creating cluster ${plan.name} in ${dir}`);
  try {
    const p = { dir, state, configs, self: selfCommand(), step: (l: string) => console.log(`  ${l}`) };
    if (provisioner === "container") await createContainerCluster(p);
    else {
      await createQemuCluster({ ...p, image: image!, memoryMiB, accel: (v.accel ?? "tcg") as "tcg" | "kvm" });
      await applyThroughMaintenance(dir, state, configs.byNode, Date.now() + waitMs);
    }
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    console.error("removing what was made");
    await destroyCluster(dir, plan.name, { step: (l) => console.error(`  ${l}`) });
    return EXIT.FAILED;
  }

  // The client config: the control planes through the forwards, the first one as the default node.
  const base = configs.clientConfig.contexts[plan.name]!;
  const cps = plan.nodes.filter((n) => n.role === "controlplane");
  const endpoints = cps.map((n) => `127.0.0.1:${state.forwarder!.ports[n.name]}`);
  const ctx = { ...base, endpoints, nodes: [cps[0]!.address] };
  const own: ClientConfig = { context: plan.name, contexts: { [plan.name]: ctx } };
  saveClientConfig(join(dir, "bunkerconfig"), own);
  const path = clientConfigPath(v.bunkerconfig);
  try {
    const c = loadClientConfig(path, { allowMissing: true });
    saveClientConfig(path, { context: plan.name, contexts: { ...c.contexts, [plan.name]: ctx } });
  } catch (e) {
    console.error(`warning: could not merge the context into ${path}: ${(e as Error).message}; use --bunkerconfig ${join(dir, "bunkerconfig")}`);
  }

  console.log("");
  console.log(formatTable(["NAME", "ROLE", "ADDRESS", "API FROM THE HOST"], plan.nodes.map((n) => {
    const port = state.forwarder!.ports[n.name];
    return [n.name, n.role, n.address, port && n.role === "controlplane" ? `127.0.0.1:${port}` : `through a control plane: -n ${n.address}`];
  })));
  console.log("");
  console.log(`context "${plan.name}" in ${path} (current), endpoints ${endpoints.join(", ")}`);
  console.log(`consoles: ${consoleLog(dir, "NODE")}`);
  console.log(`try: bunkerctl --context ${plan.name} -n ${plan.nodes.at(-1)!.address} services`);
  // The cluster's own client config, as every command reads one.
  const api = new Api({ ...resolveTarget({}, join(dir, "bunkerconfig")), nodes: [] }, 10_000);
  console.log("");
  const deadline = Date.now() + waitMs;
  try {
    // As talosctl does: the first control plane starts etcd, the others join it by themselves.
    if (!v["no-bootstrap"]) console.log(await bootstrapEtcd(api, endpoints, cps[0]!.address, deadline));
  } catch (e) {
    api.close();
    if (!(e instanceof HealthTimeout)) throw e;
    console.error(`error: ${e.message}`);
    return EXIT.TIMEOUT;
  }
  if (!v.wait) { api.close(); return EXIT.OK; }
  try {
    await checkCluster({ api, endpoints, deadline, etcd: !v["no-bootstrap"], controlPlanes: cps.map((n) => n.address), workers: plan.nodes.filter((n) => n.role === "worker").map((n) => n.address), say: (l) => console.log(l) });
    console.log(`cluster ${plan.name} is healthy`);
    return EXIT.OK;
  } catch (e) {
    if (!(e instanceof HealthTimeout)) throw e;
    console.error(`error: ${e.message}`);
    console.error(`the cluster is kept: look at ${consoleLog(dir, "NODE")}, or remove it with bunkerctl cluster destroy --name ${plan.name}`);
    return EXIT.TIMEOUT;
  } finally {
    api.close();
  }
}

/** "512MiB", "1GiB", "2G", "768": MiB. */
function parseMiB(s: string): number | undefined {
  const m = /^([0-9]+)\s*(M|MB|MiB|G|GB|GiB)?$/i.exec(s.trim());
  if (!m) return undefined;
  return Number(m[1]) * (m[2] && /^g/i.test(m[2]) ? 1024 : 1);
}

/**
 * QEMU nodes boot into maintenance mode: each node's config goes in through its forward, to the
 * certificate whose fingerprint its console printed (pinned, so the config with the cluster's
 * keys goes to that VM and no other).
 */
async function applyThroughMaintenance(dir: string, state: ClusterState, configs: Map<string, string>, deadline: number): Promise<void> {
  await Promise.all(state.plan.nodes.map(async (n) => {
    const log = consoleLog(dir, n.name);
    const endpoint = `127.0.0.1:${state.forwarder!.ports[n.name]}`;
    let last = "no maintenance certificate fingerprint on its console yet";
    let tries = 0;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`${n.name}: applying its config: ${last} (console: ${log})`);
      // An apply whose answer was lost (apid restarts as the node leaves maintenance) took
      // effect all the same: the console says the node left maintenance mode.
      if (tries > 0 && /apid: maintenance -> (controlplane|worker)/.test(readFileSync(log, "utf8"))) break;
      // Every fingerprint the console printed is this VM's: apid's certificate is made again when
      // the node's address arrives, and apid may serve either for a moment. The latest first.
      const printed = [...(existsSync(log) ? readFileSync(log, "utf8") : "").matchAll(/maintenance certificate SHA-256 fingerprint ([0-9A-F:]{95})/g)].map((m) => m[1]!).reverse();
      let applied = false;
      for (const fp of new Set(printed)) {
        const api = new Api({ context: "", configPath: undefined, endpoints: [endpoint], nodes: [], insecure: true, pinSha256: parseFingerprint(fp) }, 30_000);
        const earlier = tries++ > 0;
        try {
          await api.apply({ data: Buffer.from(configs.get(n.name)!), mode: 0, dryRun: false, tryTimeoutSeconds: 0 }, { label: n.name, endpoints: [endpoint] });
          applied = true;
          break;
        } catch (e) {
          // apid may still be starting, or serve another certificate the console printed; the
          // node's refusal of the config itself is final. After a try whose answer was lost (its
          // deadline passed while a loaded VM checked the config), the node says its first config
          // is taken: that try's, as no one else has this VM's pinned certificate and address
          // before create hands out the client config; its console then says so, and health
          // checks with the cluster's CA follow.
          const taken = earlier && e instanceof GrpcError && e.code === Status.FAILED_PRECONDITION && reasonOf(e) === REASON.configTaken;
          if (e instanceof GrpcError && e.code !== Status.UNAVAILABLE && e.code !== Status.DEADLINE_EXCEEDED && !taken) throw new Error(`${n.name}: applying its config: ${e.message}`);
          last = (e as Error).message;
        } finally {
          api.close();
        }
      }
      if (applied) break;
      await Bun.sleep(1000);
    }
    console.log(`  ${n.name}: config applied through maintenance mode (certificate pinned)`);
  }));
}
