/**
 * Resource definitions: what `get rd` lists, and how a client turns a name the operator typed
 * (`svc`, `services`, `Services.runtime.bunker.dev`) into a namespace and type, and which columns
 * to print. Definitions are themselves resources (namespace "meta", type ResourceDefinitions).
 */
import type { Kind, Resource } from "./resource.ts";
import type { Store } from "./store.ts";

export interface Column {
  /** Header, e.g. "STATE". */
  name: string;
  /** A dotted path into the resource, e.g. "spec.state" or "metadata.labels.role". */
  path: string;
}

export interface ResourceDefinition {
  /** The full type name, e.g. "Services.runtime.bunker.dev". */
  type: string;
  /** Short names, lower-case, e.g. ["service", "services", "svc"]. */
  aliases: string[];
  /** The namespace its resources live in unless told otherwise. */
  namespace: string;
  columns: Column[];
  /**
   * Its resources' specs are for os:admin only: init refuses Get, List and Watch of the type to
   * any other caller (services/init/api/server.ts). Secrets themselves never enter the store;
   * this guards what is left of a config (and any later type that must be kept close).
   */
  sensitive?: boolean;
}

export const DEFINITIONS: Kind = { namespace: "meta", type: "ResourceDefinitions.meta.bunker.dev" };

/** Registers (or replaces) a definition; the type itself is a definition too. */
export function registerDefinition(store: Store, def: ResourceDefinition): void {
  if (!/^[A-Z][A-Za-z0-9]*(\.[a-z0-9-]+)+$/.test(def.type)) {
    throw new Error(`resource definition "${def.type}": type must look like Name.group.domain`);
  }
  const aliases = [...new Set([def.type.toLowerCase(), def.type.split(".")[0]!.toLowerCase(), ...def.aliases.map((a) => a.toLowerCase())])];
  const spec: ResourceDefinition = { ...def, aliases };
  store.modify<ResourceDefinition>({ ...DEFINITIONS, id: def.type }, () => spec, { owner: "" });
}

export const definitionOfDefinitions: ResourceDefinition = {
  type: DEFINITIONS.type,
  aliases: ["rd", "rds", "resourcedefinition", "resourcedefinitions"],
  namespace: DEFINITIONS.namespace,
  columns: [{ name: "ALIASES", path: "spec.aliases" }, { name: "NAMESPACE", path: "spec.namespace" }],
};

/** The definition a name or alias refers to (case-insensitive), or undefined. */
export function resolveDefinition(store: Store, name: string): ResourceDefinition | undefined {
  const n = name.toLowerCase();
  for (const r of store.list<ResourceDefinition>(DEFINITIONS)) {
    if (r.spec.aliases.includes(n)) return r.spec;
  }
  return undefined;
}

/** The value at a dotted path of a resource, as text for a table cell. */
export function columnValue(r: Resource, path: string): string {
  let v: unknown = r;
  for (const part of path.split(".")) {
    if (v === null || typeof v !== "object") return "";
    v = (v as Record<string, unknown>)[part];
  }
  if (v === undefined || v === null) return "";
  if (Array.isArray(v)) return v.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join(",");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
