/**
 * The client config (`bunkerconfig`): named contexts, each with the API endpoints to dial, the
 * nodes to target, and the CA, certificate and key (base64 of PEM) to authenticate with.
 * Default path ~/.bunker/config; $BUNKERCONFIG overrides it. Written 0600: it holds a key.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { Document } from "yaml";
import { writeFileAtomic } from "../fileio/atomic.ts";
import { YamlReader } from "../yamlfile/yamlfile.ts";

export interface ClientContext {
  endpoints: string[];
  nodes: string[];
  /** base64 of the cluster CA certificate PEM. */
  ca: string;
  /** base64 of the client certificate PEM. */
  crt: string;
  /** base64 of the client private key PEM. */
  key: string;
}

export interface ClientConfig {
  /** The current context's name ("" when none is chosen). */
  context: string;
  contexts: Record<string, ClientContext>;
}

const CONTEXT_FIELDS = ["endpoints", "nodes", "ca", "crt", "key"] as const;

export function emptyClientConfig(): ClientConfig {
  return { context: "", contexts: {} };
}

/** $BUNKERCONFIG if set and not empty, else ~/.bunker/config. */
export function defaultClientConfigPath(env: Record<string, string | undefined> = process.env, home = homedir()): string {
  const fromEnv = env.BUNKERCONFIG;
  return fromEnv && fromEnv.trim() !== "" ? fromEnv : join(home, ".bunker", "config");
}

export function parseClientConfig(text: string, source = "bunkerconfig"): ClientConfig {
  const r = new YamlReader(text, source);
  r.done();
  if (r.value === null || r.value === undefined) return emptyClientConfig();
  r.map([], ["context", "contexts"]);
  const context = r.string(["context"], { required: false }) ?? "";
  const contexts: Record<string, ClientContext> = {};
  const names = Object.keys(r.map(["contexts"], [], false) ?? {});
  for (const name of names) {
    const p = ["contexts", name];
    // A context named so would replace the prototype of the contexts map (the file may come from someone else).
    if (name === "__proto__" || name === "constructor" || name === "prototype") {
      r.fail(p, `${JSON.stringify(name)} is not allowed as a context name`);
      continue;
    }
    if (!r.map(p, CONTEXT_FIELDS)) continue;
    const endpoints = r.stringList([...p, "endpoints"], false) ?? [];
    const nodes = r.stringList([...p, "nodes"], false) ?? [];
    const pem = (f: "ca" | "crt" | "key") => {
      const b = r.base64([...p, f], { required: false });
      return b ? Buffer.from(b).toString("base64") : "";
    };
    contexts[name] = { endpoints, nodes, ca: pem("ca"), crt: pem("crt"), key: pem("key") };
  }
  if (context !== "" && !Object.hasOwn(contexts, context)) r.fail(["context"], `names context "${context}", which is not among contexts (${names.join(", ") || "none"})`);
  r.done();
  return { context, contexts };
}

/** Loads the file; a missing file is an empty config when `allowMissing` (first use). */
export function loadClientConfig(path: string, o: { allowMissing?: boolean } = {}): ClientConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && o.allowMissing) return emptyClientConfig();
    throw new Error(`cannot read client config ${path}: ${code ?? (e as Error).message}`);
  }
  return parseClientConfig(text, path);
}

export function clientConfigToYaml(c: ClientConfig): string {
  const doc = new Document({ context: c.context, contexts: c.contexts });
  doc.commentBefore =
    " Bunker client config: which nodes bunkerctl talks to and with what identity.\n" +
    " Keep it private: it holds a client key. `bunkerctl config --help` lists the commands that edit it.";
  return doc.toString({ lineWidth: 0 });
}

/** Writes 0600 through a temporary file, creating the directory (0700) when needed. */
export function saveClientConfig(path: string, c: ClientConfig, o: { overwrite?: boolean } = { overwrite: true }): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileAtomic(path, clientConfigToYaml(c), { mode: 0o600, overwrite: o.overwrite ?? true });
}

/** The current context, or an error that says how to choose one. */
export function currentContext(c: ClientConfig): { name: string; ctx: ClientContext } {
  const ctx = c.contexts[c.context];
  if (!c.context || !ctx) {
    const names = Object.keys(c.contexts);
    throw new Error(names.length ? `no current context; choose one of ${names.join(", ")} with "bunkerctl config context NAME"` : "the client config has no contexts; create one with \"bunkerctl gen config\" and \"bunkerctl config merge\"");
  }
  return { name: c.context, ctx };
}

export function useContext(c: ClientConfig, name: string): ClientConfig {
  if (!(name in c.contexts)) throw new Error(`no context "${name}"; known: ${Object.keys(c.contexts).join(", ") || "none"}`);
  return { ...c, context: name };
}

/** Replaces the endpoints (or nodes) of the current context. */
export function setContextList(c: ClientConfig, field: "endpoints" | "nodes", values: string[]): ClientConfig {
  const { name, ctx } = currentContext(c);
  return { ...c, contexts: { ...c.contexts, [name]: { ...ctx, [field]: [...values] } } };
}

const sameContext = (a: ClientContext, b: ClientContext) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Merges `from` into `into`. A context whose name is free is added as is; one equal to the
 * existing context of that name is skipped; one that conflicts is added as NAME-1 (or -2, ...),
 * so merging never destroys credentials. The current context becomes `from`'s (renamed) current one.
 */
export function mergeClientConfig(into: ClientConfig, from: ClientConfig): { config: ClientConfig; renamed: Record<string, string>; added: string[] } {
  const contexts = { ...into.contexts };
  const renamed: Record<string, string> = {};
  const added: string[] = [];
  for (const [name, ctx] of Object.entries(from.contexts)) {
    let target = name;
    const existing = Object.hasOwn(contexts, name) ? contexts[name] : undefined;
    if (existing && sameContext(existing, ctx)) continue;
    if (existing) {
      let i = 1;
      while (Object.hasOwn(contexts, `${name}-${i}`) && !sameContext(contexts[`${name}-${i}`]!, ctx)) i++;
      target = `${name}-${i}`;
      renamed[name] = target;
      if (Object.hasOwn(contexts, target)) continue; // the same context was merged before under this name
    }
    contexts[target] = ctx;
    added.push(target);
  }
  const current = from.context ? (renamed[from.context] ?? from.context) : into.context;
  return { config: { context: current, contexts }, renamed, added };
}

/** Names a context may have: what people type, and nothing that could alias an object's own keys. */
const CONTEXT_NAME = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,62}$/;

/** Why `name` cannot name a context, or undefined when it can. */
export function contextNameProblem(name: string): string | undefined {
  if (name === "__proto__" || name === "constructor" || name === "prototype") return `${JSON.stringify(name)} is not allowed as a context name`;
  if (!CONTEXT_NAME.test(name)) return `context name ${JSON.stringify(name)}: use letters, digits and . _ @ : - (at most 63, starting with a letter or digit)`;
  return undefined;
}

/**
 * Adds the context `name`; one of that name is replaced only with `replace` (else an error says
 * so). It becomes the current context when there is none.
 */
export function addContext(c: ClientConfig, name: string, ctx: ClientContext, o: { replace?: boolean } = {}): ClientConfig {
  const bad = contextNameProblem(name);
  if (bad) throw new Error(bad);
  if (Object.hasOwn(c.contexts, name) && !o.replace) throw new Error(`context "${name}" already exists: choose another name, or replace it with --force`);
  return { context: c.context || name, contexts: { ...c.contexts, [name]: ctx } };
}

/** Removes the context `name`; when it was the current one, none is current afterwards. */
export function removeContext(c: ClientConfig, name: string): ClientConfig {
  if (!Object.hasOwn(c.contexts, name)) throw new Error(`no context "${name}"; known: ${Object.keys(c.contexts).join(", ") || "none"}`);
  const contexts = { ...c.contexts };
  delete contexts[name];
  return { context: c.context === name ? "" : c.context, contexts };
}
