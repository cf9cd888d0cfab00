import { stringify } from "yaml";
import type { bunker } from "../../../core/api/gen/api.js";
import { ResourceService as R } from "../../../core/api/gen/services.ts";
import { formatTable } from "../client/output.ts";
import { CONNECT_HELP, FORMAT_OPTION, formatOption, runRemote } from "../client/remote.ts";

const HELP = `Usage: bunkerctl get TYPE [ID] [-o table|yaml|json] [-w] [--namespace NS] [connection flags]

Shows resources of the node's typed store: every resource of TYPE, or the one named ID. TYPE is
a full type name (MachineStatuses.runtime.bunker.dev) or an alias (machinestatus, rd, ...);
\`bunkerctl get rd\` lists the types and their aliases. With -w, prints the current resources and
then every change until interrupted.

Options:
  -o, --output FORMAT          table (default; the type's own columns), yaml or json
  -w, --watch                  keep printing changes (table: an EVENT column; json: one per line)
  --namespace NS               namespace (default: the type's own)
  -l, --selector K=V[,K=V]     only resources whose labels match

${CONNECT_HELP}

Examples:
  bunkerctl get rd
  bunkerctl get machinestatus -o yaml
  bunkerctl get services -w -n 10.5.0.2`;

type Resource = bunker.resource.v1.IResource;
type Definition = bunker.resource.v1.IResourceDefinition;

/** The value a print column's "{.a.b}" path names in a spec, as a cell. */
export function jsonPathValue(spec: unknown, path: string): string {
  const inner = /^\{\.?(.*)\}$/.exec(path.trim())?.[1] ?? path;
  let v: unknown = spec;
  for (const part of inner.split(".").filter((p) => p !== "")) {
    if (v === null || typeof v !== "object") return "";
    v = (v as Record<string, unknown>)[part];
  }
  if (v === undefined || v === null) return "";
  if (Array.isArray(v)) return v.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join(",");
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

function spec(r: Resource): unknown {
  try {
    return JSON.parse(r.specJson ?? "null");
  } catch {
    return r.specJson;
  }
}

/** A resource as people read it: metadata plus the spec as data (not JSON text). */
export function asData(node: string, r: Resource): Record<string, unknown> {
  const m = r.metadata ?? {};
  return {
    node,
    metadata: {
      namespace: m.namespace, type: m.type, id: m.id, version: Number(m.version ?? 0), phase: m.phase, owner: m.owner ?? "",
      labels: m.labels ?? {}, created: m.created ? new Date(Number(m.created)).toISOString() : "", updated: m.updated ? new Date(Number(m.updated)).toISOString() : "",
    },
    spec: spec(r),
  };
}

function columns(def: Definition | null | undefined): { headers: string[]; cells: (node: string, r: Resource) => string[] } {
  // A column the standard ones already show (NAMESPACE of `get rd`) is left out.
  const standard = ["NODE", "NAMESPACE", "TYPE", "ID", "VERSION"];
  const extra = (def?.printColumns ?? []).filter((c) => !standard.includes((c.name ?? "").toUpperCase()));
  return {
    headers: [...standard, ...extra.map((c) => c.name ?? "")],
    cells: (node, r) => {
      const s = spec(r);
      return [node, r.metadata?.namespace ?? "", def?.displayType || (r.metadata?.type ?? ""), r.metadata?.id ?? "", String(r.metadata?.version ?? ""),
        ...extra.map((c) => jsonPathValue(s, c.jsonPath ?? ""))];
    },
  };
}

const EVENT = ["", "created", "updated", "destroyed", "bootstrapped", "errored"];

function labelSelector(v: string | undefined): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const kv of (v ?? "").split(",").filter((s) => s !== "")) {
    const i = kv.indexOf("=");
    if (i <= 0) return `--selector ${v}: expected KEY=VALUE[,KEY=VALUE]`;
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

export function run(argv: string[]): Promise<number> {
  const options = { ...FORMAT_OPTION, watch: { type: "boolean", short: "w" }, namespace: { type: "string" }, selector: { type: "string", short: "l" } } as const;
  return runRemote(argv, HELP, options, [1, 2], async (a, r) => {
    const format = formatOption(a.values.output, HELP, ["table", "json", "yaml"]);
    if (typeof format === "number") return format;
    const sel = labelSelector(a.values.selector);
    if (typeof sel === "string") { console.error(`error: ${sel}`); return 2; }
    const [type, id] = a.positionals as [string, string?];
    const namespace = a.values.namespace ?? "";

    if (a.values.watch) {
      let printedHeader = false;
      const { exit } = await r.each(async (d) => {
        let cols = columns(undefined);
        for await (const ev of r.api.stream(R.Watch, { type, id: id ?? "", namespace, bootstrap: true, labelSelector: sel }, d)) {
          if (ev.definition) cols = columns(ev.definition);
          const kind = EVENT[ev.type ?? 0] ?? String(ev.type);
          if (ev.type === 5) throw new Error(`watch failed: ${ev.error}`);
          if (!ev.resource) continue; // bootstrapped: the current state has been sent
          if (format === "json") console.log(JSON.stringify({ event: kind, ...asData(d.label, ev.resource) }));
          else if (format === "yaml") process.stdout.write(`---\n${stringify({ event: kind, ...asData(d.label, ev.resource) })}`);
          else {
            // Rows as they come cannot be aligned to later ones: tabs keep them readable.
            if (!printedHeader) { console.log(["EVENT", ...cols.headers].join("\t")); printedHeader = true; }
            console.log([kind, ...cols.cells(d.label, ev.resource)].join("\t"));
          }
        }
      });
      return exit;
    }

    const { results, exit } = await r.each(async (d) => {
      if (id !== undefined) {
        const res = await r.api.unary(R.Get, { type, id, namespace }, d);
        return { resources: res.resource ? [res.resource] : [], definition: res.definition };
      }
      const res = await r.api.unary(R.List, { type, namespace, labelSelector: sel }, d);
      return { resources: res.resources ?? [], definition: res.definition };
    });
    const all = results.flatMap(({ d, value }) => value.resources.map((res) => ({ node: d.label, res })));
    if (format === "json") console.log(JSON.stringify(all.map((x) => asData(x.node, x.res)), null, 2));
    else if (format === "yaml") process.stdout.write(all.map((x) => stringify(asData(x.node, x.res))).join("---\n"));
    else if (results.length) {
      const cols = columns(results.find((x) => x.value.definition)?.value.definition);
      console.log(formatTable(cols.headers, all.map((x) => cols.cells(x.node, x.res))));
    }
    return exit;
  });
}
