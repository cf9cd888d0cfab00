import { existsSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { stringify } from "yaml";
import { buildInfo } from "../../../core/buildinfo/buildinfo.ts";
import { MachineService as M, ResourceService as R } from "../../../core/api/gen/services.ts";
import { FileExistsError, writeFileAtomic } from "../../../core/fileio/atomic.ts";
import { formatBytes } from "../../../core/format/bytes.ts";
import { ADDRESS_STATUSES, LINK_STATUSES, RESOLVER_STATUSES, ROUTE_STATUSES } from "../../../core/netresources/kinds.ts";
import { DEFINITIONS } from "../../../core/resources/definitions.ts";
import { tarArchive, type TarEntry } from "../../../core/tar/tar.ts";
import { usageError } from "../args.ts";
import type { Destination } from "../client/api.ts";
import { explain } from "../client/errors.ts";
import { EXIT } from "../client/exitcodes.ts";
import { CONNECT_HELP, runRemote, type Remote } from "../client/remote.ts";
import { kernelLine } from "./dmesg.ts";
import { asData } from "./get.ts";

const HELP = `Usage: bunkerctl support [-O FILE] [--force] [connection flags]

Collects what is needed to look into a problem from each node into one archive (tar.gz), a
folder per node: version, the machine config with every secret redacted, services, the log of
every service, the kernel log, events, every resource type the node lists (YAML), processes,
mounts, memory, disks and the network state (links, addresses, routes, resolvers, sockets).
support.yaml at the top says what was collected and what failed. Many nodes go through one
endpoint (-n). Progress goes to standard error, a line per node and part; a part that fails
is kept in the archive as PART.error saying why, and the rest is collected; the exit code is
then the first failure's (5 refused, 4 unreachable, ...). Once a node proves unreachable its
remaining parts are skipped (skipped.error lists them) rather than each waiting out --timeout.
The config needs os:admin (its resource is admin-only even redacted); with another role that
part fails and says so. The config is the node's MachineConfig resource: secrets never leave it.

Options:
  -O, --output-file FILE       where to write the archive (default support.tar.gz); written
                               whole or not at all
  --force                      replace FILE if it exists

${CONNECT_HELP}

Examples:
  bunkerctl support -n 10.5.0.2,10.5.0.3
  bunkerctl support -O /tmp/node.tar.gz --force`;

const MACHINE_CONFIG = { namespace: "config", type: "MachineConfigs.config.bunker.dev", id: "v1alpha1" };

type Files = { path: string; data: string }[];

/** One thing collected from a node: `files` returns what it writes (paths inside the node's folder). */
interface Part {
  name: string;
  files: () => Promise<Files>;
}

const yaml = (v: unknown) => stringify(v, { lineWidth: 0 });
const isoMs = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : "-");
/** A file name safe in a tar path and on any filesystem it is extracted to. */
const safe = (s: string) => s.replace(/[^A-Za-z0-9._:@+-]/g, "_").replace(/^\.+/, "_") || "_";

/** What there is to collect from one node, in the order it is collected. */
function parts(r: Remote, d: Destination): Part[] {
  const unary = r.api.unary.bind(r.api);
  const all = <T>(it: AsyncGenerator<T>) => Array.fromAsync(it);
  const bounded = { timeoutMs: r.api.timeoutMs };
  const list = async (kind: { namespace: string; type: string }) => (await unary(R.List, { ...kind }, d)).resources ?? [];
  const specs = async (kind: { namespace: string; type: string }) =>
    (await list(kind)).map((res) => ({ id: res.metadata?.id ?? "", ...JSON.parse(res.specJson || "{}") }));
  return [
    { name: "version", files: async () => [{ path: "version.yaml", data: yaml(await unary(M.Version, {}, d)) }] },
    {
      // The MachineConfig resource holds the config with every secret replaced, as YAML: the
      // config RPC (the text as applied, secrets included) is never asked.
      name: "config", files: async () => {
        const res = (await unary(R.Get, MACHINE_CONFIG, d)).resource;
        const spec = JSON.parse(res?.specJson || "{}") as { raw?: string; source?: string; warnings?: string[] };
        const head = `# the node's machine config, secrets redacted; source: ${spec.source ?? "-"}\n` + (spec.warnings ?? []).map((w) => `# warning: ${w.replace(/\n/g, " ")}\n`).join("");
        return [{ path: "config.yaml", data: head + (spec.raw ?? "") }];
      },
    },
    { name: "services", files: async () => [{ path: "services.yaml", data: yaml((await unary(M.ServiceList, {}, d)).services ?? []) }] },
    { name: "dmesg", files: async () => [{ path: "dmesg.log", data: (await all(r.api.stream(M.Dmesg, { follow: false, tail: 0 }, d, bounded))).map((k) => `${kernelLine(k)}\n`).join("") }] },
    { name: "events", files: async () => [{ path: "events.jsonl", data: (await all(r.api.stream(M.Events, { tailEvents: -1, follow: false }, d, bounded))).map((e) => `${JSON.stringify({ ...e, time: isoMs(Number(e.time)) })}\n`).join("") }] },
    { name: "processes", files: async () => [{ path: "processes.yaml", data: yaml((await unary(M.Processes, {}, d)).processes ?? []) }] },
    { name: "mounts", files: async () => [{ path: "mounts.yaml", data: yaml((await unary(M.Mounts, {}, d)).mounts ?? []) }] },
    { name: "memory", files: async () => [{ path: "memory.yaml", data: yaml(await unary(M.Memory, {}, d)) }] },
    { name: "disks", files: async () => [{ path: "disks.yaml", data: yaml((await unary(M.Disks, {}, d)).disks ?? []) }] },
    { name: "network/links", files: async () => [{ path: "network/links.yaml", data: yaml(await specs(LINK_STATUSES)) }] },
    { name: "network/addresses", files: async () => [{ path: "network/addresses.yaml", data: yaml(await specs(ADDRESS_STATUSES)) }] },
    { name: "network/routes", files: async () => [{ path: "network/routes.yaml", data: yaml(await specs(ROUTE_STATUSES)) }] },
    { name: "network/resolvers", files: async () => [{ path: "network/resolvers.yaml", data: yaml(await specs(RESOLVER_STATUSES)) }] },
    { name: "network/sockets", files: async () => [{ path: "network/sockets.yaml", data: yaml((await unary(M.Netstat, { pid: true }, d)).records ?? []) }] },
  ];
}

/** The parts known only once asked: a log per service, a file per resource type. */
async function listedParts(r: Remote, d: Destination): Promise<Part[]> {
  const out: Part[] = [];
  const services = (await r.api.unary(M.ServiceList, {}, d)).services ?? [];
  for (const s of services) {
    const id = s.id ?? "";
    out.push({
      name: `logs/${id}`, files: async () => {
        const lines = await Array.fromAsync(r.api.stream(M.Logs, { id, tail: -1, follow: false }, d, { timeoutMs: r.api.timeoutMs }));
        return [{ path: `logs/${safe(id)}.log`, data: lines.map((e) => `${isoMs(Number(e.time))} ${e.stream || "-"} ${e.message ?? ""}\n`).join("") }];
      },
    });
  }
  const defs = (await r.api.unary(R.List, { ...DEFINITIONS }, d)).resources ?? [];
  for (const def of defs) {
    const { type, namespace } = JSON.parse(def.specJson || "{}") as { type: string; namespace: string };
    out.push({
      name: `resources/${type}`, files: async () => {
        const list = (await r.api.unary(R.List, { type, namespace }, d)).resources ?? [];
        return [{ path: `resources/${safe(type)}.yaml`, data: list.map((x) => yaml(asData(d.label, x))).join("---\n") }];
      },
    });
  }
  return out;
}

interface NodeResult {
  node: string;
  folder: string;
  collected: string[];
  failed: { part: string; error: string }[];
  /** Parts not tried once the node proved unreachable (each would wait out the timeout). */
  skipped: string[];
  files: TarEntry[];
  /** The exit code of the first failure (0: none). */
  exit: number;
}

async function collect(r: Remote, d: Destination, folder: string, progress: (line: string) => void): Promise<NodeResult> {
  const res: NodeResult = { node: d.label, folder, collected: [], failed: [], skipped: [], files: [], exit: EXIT.OK };
  const now = new Date();
  let unreachable = false;
  const fail = (part: string, err: unknown) => {
    const { message, exit } = explain(err, r.target, `${d.label}: ${part}`);
    if (res.exit === EXIT.OK) res.exit = exit;
    if (exit === EXIT.UNREACHABLE) unreachable = true;
    res.failed.push({ part, error: message });
    res.files.push({ name: `${folder}/${part.split("/").map(safe).join("/")}.error`, data: `collecting ${part} from ${d.label} failed:\n${message}\n`, mtime: now });
    progress(`${d.label}: ${part}: failed: ${message.split("\n")[0]}`);
  };
  const run = async (p: Part) => {
    if (unreachable) return void res.skipped.push(p.name);
    try {
      const files = await p.files();
      for (const f of files) res.files.push({ name: `${folder}/${f.path}`, data: f.data, mtime: now });
      res.collected.push(p.name);
      progress(`${d.label}: ${p.name} (${formatBytes(files.reduce((n, f) => n + Buffer.byteLength(f.data), 0))})`);
    } catch (err) {
      fail(p.name, err);
    }
  };
  for (const p of parts(r, d)) await run(p);
  let more: Part[] = [];
  try {
    more = await listedParts(r, d);
  } catch (err) {
    fail("logs and resources", err);
  }
  for (const p of more) await run(p);
  if (res.skipped.length) {
    res.files.push({ name: `${folder}/skipped.error`, data: `not collected from ${d.label}, which could not be reached: ${res.skipped.join(", ")}
`, mtime: now });
    progress(`${d.label}: skipped ${res.skipped.join(", ")}: the node could not be reached`);
  }
  return res;
}

export function run(argv: string[]): Promise<number> {
  const options = { "output-file": { type: "string", short: "O" }, force: { type: "boolean" } } as const;
  return runRemote(argv, HELP, options, [0, 0], async (a, r) => {
    const file = a.values["output-file"] ?? "support.tar.gz";
    const force = a.values.force === true;
    // Refused before anything is collected, not after minutes of it.
    if (!force && existsSync(file)) return usageError(HELP, `${file} exists: choose another with -O, or --force to replace it`);
    const started = Date.now();
    const used = new Set<string>();
    const folders = r.dests.map((d) => {
      let f = safe(d.label);
      for (let i = 2; used.has(f); i++) f = `${safe(d.label)}-${i}`;
      used.add(f);
      return f;
    });
    const progress = (line: string) => console.error(line);
    const results = await Promise.all(r.dests.map((d, i) => collect(r, d, folders[i]!, progress)));
    const info = buildInfo();
    const manifest = {
      created: new Date(started).toISOString(),
      client: { version: info.version, commit: info.commit },
      nodes: results.map((x) => ({ node: x.node, folder: x.folder, collected: x.collected, failed: x.failed, skipped: x.skipped })),
    };
    const entries: TarEntry[] = [{ name: "support.yaml", data: yaml(manifest) }];
    for (const x of results) {
      const dirs = new Set<string>();
      for (const f of x.files) for (let i = f.name.indexOf("/"); i > 0; i = f.name.indexOf("/", i + 1)) dirs.add(f.name.slice(0, i));
      for (const dir of [...dirs].sort()) entries.push({ name: dir, type: "dir" });
      entries.push(...x.files.sort((p, q) => (p.name < q.name ? -1 : p.name > q.name ? 1 : 0)));
    }
    const gz = gzipSync(tarArchive(entries));
    try {
      // Logs and process lists are not for every local user.
      writeFileAtomic(file, gz, { mode: 0o600, overwrite: force });
    } catch (err) {
      if (err instanceof FileExistsError) return usageError(HELP, `${file} exists: choose another with -O, or --force to replace it`);
      console.error(`error: writing ${file}: ${(err as Error).message}`);
      return EXIT.FAILED;
    }
    const failed = results.reduce((n, x) => n + x.failed.length, 0);
    console.error(`wrote ${file}: ${results.length} node${results.length === 1 ? "" : "s"}, ${entries.length} entries, ${formatBytes(gz.length)} in ${((Date.now() - started) / 1000).toFixed(1)}s` +
      (failed ? `; ${failed} part${failed === 1 ? "" : "s"} failed (PART.error in the archive says why)` : ""));
    return results.find((x) => x.exit !== EXIT.OK)?.exit ?? EXIT.OK;
  });
}
