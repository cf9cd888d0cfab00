/**
 * For tests that prove no secret leaves a node: two configured control-plane nodes of one
 * cluster (the compiled binary's init in container mode) whose config carries every kind of
 * secret, and the list of those secrets in every form the config files carry them, to search
 * answers, outputs and files for.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { toPemPair } from "../../core/pki/issue.ts";
import { saveSecrets, type Secrets } from "../../core/secrets/secrets.ts";
import { ContainerNode, ctl, freePort, type TestCluster } from "./remote-cluster.ts";

/** Private key blocks of any key, in PEM and as base64 of PEM (certificates are no secret and are left alone). */
const KEY_SHAPES = [/PRIVATE KEY/, new RegExp(Buffer.from("-----BEGIN PRIVATE KEY-----").toString("base64").slice(0, 32)), new RegExp(Buffer.from("-----BEGIN EC PRIVATE KEY-----").toString("base64").slice(0, 36))];

/** Secret values to look for, each named. */
export class Needles {
  readonly list: { what: string; text: string }[] = [];

  /** A value, and for a base64 PEM key the PEM itself and each line of its body. */
  add(what: string, value: string | undefined): void {
    if (!value) return;
    this.list.push({ what, text: value });
    const decoded = Buffer.from(value, "base64").toString("utf8");
    if (decoded.includes("PRIVATE KEY")) {
      this.list.push({ what: `${what} (PEM)`, text: decoded.trim() });
      for (const line of decoded.split("\n")) if (line.length >= 16 && !line.startsWith("-----")) this.list.push({ what: `${what} (PEM body)`, text: line });
    }
  }

  /** The names of the secrets (and private key blocks) found in `text`. */
  leaks(text: string): string[] {
    const found = this.list.filter((n) => text.includes(n.text)).map((n) => n.what);
    for (const re of KEY_SHAPES) if (re.test(text)) found.push(`a private key block (${re.source})`);
    return [...new Set(found)];
  }
}

export interface SecretCluster {
  ep: { a: string; b: string };
  /** Started by the caller (start()), stopped by it. */
  nodes: ContainerNode[];
  /** The generated controlplane.yaml, parsed. */
  controlplane: Record<string, any>;
  needles: Needles;
}

/**
 * Two nodes (hostnames node-a and node-b) on free loopback ports; the cluster endpoint names node
 * b, so node a's apid relays to b (it relays only to members). Each config also writes a file
 * whose content (`fileSecret`) the schema marks secret. The needles hold the config's and the
 * secrets bundle's values.
 */
export async function secretCluster(cluster: TestCluster, secrets: Secrets, fileSecret: string): Promise<SecretCluster> {
  const ep = { a: `127.0.0.1:${await freePort()}`, b: `127.0.0.1:${await freePort()}` };
  const secretsFile = join(cluster.dir, "secrets.yaml");
  saveSecrets(secretsFile, secrets);
  const cfgDir = join(cluster.dir, "cfg");
  const gen = await ctl(undefined, "gen", "config", "demo", `https://${ep.b}`, "--with-secrets", secretsFile, "--output-dir", cfgDir);
  if (gen.code !== 0) throw new Error(`gen config: ${gen.err}`);
  const cp = parse(readFileSync(join(cfgDir, "controlplane.yaml"), "utf8"));
  const needles = new Needles();
  // The values as the config file holds them, and as the secrets bundle does.
  needles.add("machine.ca.key", cp.machine.ca.key);
  needles.add("cluster.etcd.ca.key", cp.cluster.etcd.ca.key);
  needles.add("machine.token", cp.machine.token);
  needles.add("cluster.secret", cp.cluster.secret);
  needles.add("secrets.yaml os key", Buffer.from(toPemPair(secrets.os).key).toString("base64"));
  needles.add("secrets.yaml etcd key", Buffer.from(toPemPair(secrets.etcd).key).toString("base64"));
  needles.add("secrets.yaml token", secrets.token);
  needles.add("secrets.yaml cluster secret", Buffer.from(secrets.cluster.secret).toString("base64"));
  needles.list.push({ what: "machine.files[0].content", text: fileSecret });
  const nodes: ContainerNode[] = [];
  for (const k of ["a", "b"] as const) {
    const file = join(cluster.dir, `node-${k}.yaml`);
    // A file written at boot holding a credential: the schema marks its content secret too.
    writeFileSync(file, stringify({ ...cp, machine: { ...cp.machine, network: { hostname: `node-${k}` }, files: [{ path: "/var/etc/svc-token", content: fileSecret }] } }));
    nodes.push(new ContainerNode(join(cluster.dir, `state-${k}`), ep[k], file));
  }
  return { ep, nodes, controlplane: cp, needles };
}
