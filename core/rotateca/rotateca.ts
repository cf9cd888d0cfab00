/**
 * Cluster CA rotation, the part that needs no network: the configs each node gets at each step,
 * and the state that lets an interrupted rotation resume. The steps, for every node:
 *
 *   accepted  the new CA joins machine.acceptedCAs: the node trusts clients of both CAs
 *   swapped   machine.ca becomes the new CA (crt, and key where the node had one: control planes)
 *             and the old CA moves to acceptedCAs: the node's certificates are re-issued from the
 *             new CA while clients of the old one are still let in
 *   dropped   the old CA leaves acceptedCAs: only the new CA is trusted
 *
 * A step starts on any node only when every node has finished the one before (the new client
 * config is written between "swapped" and "dropped"), so at no moment does a node refuse the
 * certificates another node or the operator presents.
 *
 * Every config is computed from the node's config as it was before the rotation (kept in the
 * state), never from what a node reports back: the node's published config holds no keys.
 */
import { readFileSync, unlinkSync } from "node:fs";
import { isMap, isSeq, parseDocument, type Document } from "yaml";
import { writeFileAtomic } from "../fileio/atomic.ts";

export const STEPS = ["pending", "accepted", "swapped", "dropped"] as const;
export type Step = (typeof STEPS)[number];

export const stepIndex = (s: Step): number => STEPS.indexOf(s);

/** base64 of PEM text, as configs and client configs hold certificates and keys. */
export interface B64Pair { crt: string; key: string }

/** A problem with a config, the state or the rotation's inputs; the message names where. */
export class RotationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RotationError";
  }
}

const pemOf = (b64: string) => Buffer.from(b64, "base64").toString("utf8").trim();

/** Two base64 PEM values naming the same certificate (whitespace and line breaks aside). */
export function sameCert(a: string, b: string): boolean {
  return pemOf(a).replace(/\s+/g, "") === pemOf(b).replace(/\s+/g, "");
}

function parseConfig(text: string, source: string): Document {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) throw new RotationError(`${source}: not valid YAML: ${doc.errors[0]!.message}`);
  if (!isMap(doc.contents)) throw new RotationError(`${source}: expected a machine config (a mapping)`);
  return doc;
}

/** machine.ca of a config: its certificate and whether it holds the key (a control plane). */
export function configCA(text: string, source: string): { crt: string; hasKey: boolean } {
  const doc = parseConfig(text, source);
  const crt = doc.getIn(["machine", "ca", "crt"]);
  if (typeof crt !== "string" || crt === "") throw new RotationError(`${source}: machine.ca.crt is missing: not the config of a node in a cluster`);
  const key = doc.getIn(["machine", "ca", "key"]);
  return { crt, hasKey: typeof key === "string" && key !== "" };
}

/**
 * The config a node gets at `step`, from its config before the rotation: only machine.ca and
 * machine.acceptedCAs change (other accepted CAs the operator listed stay, in order).
 */
export function configAt(original: string, source: string, step: Exclude<Step, "pending">, oldCa: string, newCa: B64Pair): string {
  const doc = parseConfig(original, source);
  const { crt, hasKey } = configCA(original, source);
  if (!sameCert(crt, oldCa)) throw new RotationError(`${source}: machine.ca.crt is not the CA being rotated (the client config's); pass the config these nodes run`);
  const acceptedNode = doc.getIn(["machine", "acceptedCAs"]);
  const others: string[] = [];
  if (acceptedNode !== undefined && acceptedNode !== null) {
    if (!isSeq(acceptedNode)) throw new RotationError(`${source}: machine.acceptedCAs: expected a list`);
    for (const [i, item] of acceptedNode.items.entries()) {
      const c = isMap(item) ? item.get("crt") : undefined;
      if (typeof c !== "string") throw new RotationError(`${source}: machine.acceptedCAs[${i}].crt: expected base64 PEM text`);
      if (!sameCert(c, oldCa) && !sameCert(c, newCa.crt)) others.push(c);
    }
  }
  const accepted = step === "accepted" ? [...others, newCa.crt] : step === "swapped" ? [...others, oldCa] : others;
  if (step !== "accepted") {
    doc.setIn(["machine", "ca", "crt"], newCa.crt);
    // A worker holds the CA certificate only: it gets no key now either.
    if (hasKey) doc.setIn(["machine", "ca", "key"], newCa.key);
  }
  if (accepted.length) doc.setIn(["machine", "acceptedCAs"], doc.createNode(accepted.map((c) => ({ crt: c }))));
  else doc.deleteIn(["machine", "acceptedCAs"]);
  return doc.toString({ lineWidth: 0 });
}

/** Where a rotation stands; written after every step so that a re-run resumes. Holds keys: 0600. */
export interface RotationState {
  version: 1;
  /** The bunkerconfig and context being rotated. */
  clientConfig: string;
  context: string;
  startedAt: string;
  /** The CA being replaced (certificate only) and the new one. */
  oldCa: string;
  newCa: B64Pair;
  /** The admin credentials before the rotation (the old CA's) and the new ones. */
  oldAdmin: B64Pair;
  newAdmin: B64Pair;
  /** Each config file as it was before the rotation, by path. */
  configs: Record<string, string>;
  /** The secrets bundle to update at the end, when given. */
  secrets?: string;
  /** Each node ("host:port"): its config file and the last step it is known to have reached. */
  nodes: Record<string, { config: string; step: Step }>;
  /** Whether the client config now holds the new credentials (the backup context the old ones). */
  clientConfigWritten: boolean;
  backupContext: string;
}

export function loadState(path: string): RotationState | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new RotationError(`cannot read the rotation state ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let s: RotationState;
  try {
    s = JSON.parse(text) as RotationState;
  } catch (e) {
    throw new RotationError(`${path}: not a rotation state (${(e as Error).message})`);
  }
  const missing = ["clientConfig", "context", "oldCa", "newCa", "oldAdmin", "newAdmin", "configs", "nodes"].filter((k) => !(k in (s ?? {})));
  if (s?.version !== 1 || missing.length) throw new RotationError(`${path}: not a rotation state of this version${missing.length ? ` (missing ${missing.join(", ")})` : ""}`);
  for (const [node, n] of Object.entries(s.nodes)) {
    if (!STEPS.includes(n.step)) throw new RotationError(`${path}: nodes.${node}.step: ${JSON.stringify(n.step)} is not one of ${STEPS.join(", ")}`);
    if (!(n.config in s.configs)) throw new RotationError(`${path}: nodes.${node}.config: ${n.config} is not among the saved configs`);
  }
  return s;
}

/** Atomic (a crash leaves the previous state or this one), 0600: it holds the new CA key. */
export function saveState(path: string, s: RotationState): void {
  writeFileAtomic(path, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600, overwrite: true });
}

export function removeState(path: string): void {
  try { unlinkSync(path); } catch (e) { if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e; }
}

/** The nodes that have not reached `step`. */
export function behind(s: RotationState, step: Step): string[] {
  return Object.entries(s.nodes).filter(([, n]) => stepIndex(n.step) < stepIndex(step)).map(([node]) => node);
}
