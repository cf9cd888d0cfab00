/**
 * What `bunkerctl gen config` produces, without touching the disk: the control-plane and worker
 * machine configs, the client config with an admin certificate, and the secrets bundle, from a
 * cluster name, an endpoint and a secrets bundle. Configs are built as plain data (so patches
 * apply to exactly what is written), then rendered as YAML with comments for the operator.
 */
import { Document, isMap, type YAMLMap } from "yaml";
import { clientConfigToYaml, type ClientConfig } from "../clientconfig/clientconfig.ts";
import { applyPatches, type Json, type Patch } from "../configpatch/patch.ts";
import { issueAdminCert, toPemPair } from "../pki/issue.ts";
import { b64, comment, secretsToYaml, type Secrets } from "../secrets/secrets.ts";

export interface GenConfigInput {
  clusterName: string;
  /** The control plane's API endpoint, "https://host:port". */
  endpoint: string;
  secrets: Secrets;
  /** Default /dev/sda. */
  installDisk?: string;
  /** Extra names and addresses for the nodes' API certificates (both machine types). */
  additionalSans?: string[];
  patches?: Patch[];
  patchesControlplane?: Patch[];
  patchesWorker?: Patch[];
  now?: Date;
}

export interface GeneratedConfigs {
  controlplane: Json;
  worker: Json;
  clientConfig: ClientConfig;
  /** File name -> content, in the order they are written. */
  files: { name: string; content: string; mode: number }[];
}

export const DEFAULT_INSTALL_DISK = "/dev/sda";
export const DEFAULT_API_PORT = 50000;

const CLUSTER_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

/** Checks the endpoint's form and returns its host (without IPv6 brackets). */
export function endpointHost(endpoint: string): string {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    throw new Error(`endpoint ${JSON.stringify(endpoint)} is not a URL; expected https://HOST:PORT, e.g. https://10.5.0.2:${DEFAULT_API_PORT}`);
  }
  if (u.protocol !== "https:") throw new Error(`endpoint ${JSON.stringify(endpoint)} must use https:// (the API is TLS only)`);
  if (!u.hostname) throw new Error(`endpoint ${JSON.stringify(endpoint)} has no host`);
  if ((u.pathname !== "/" && u.pathname !== "") || u.search || u.hash || u.username) throw new Error(`endpoint ${JSON.stringify(endpoint)} must be only https://HOST:PORT, without path, query or credentials`);
  return u.hostname.replace(/^\[(.*)\]$/, "$1");
}

function machineBase(i: GenConfigInput, type: "controlplane" | "worker", sans: string[]): Record<string, Json> {
  const ca = toPemPair(i.secrets.os);
  return {
    type,
    token: i.secrets.token,
    // Workers get the CA certificate only: they obtain their own certificates from trustd.
    ca: type === "controlplane" ? { crt: b64(ca.crt), key: b64(ca.key) } : { crt: b64(ca.crt) },
    ...(sans.length ? { certSANs: sans } : {}),
    install: { disk: i.installDisk ?? DEFAULT_INSTALL_DISK, wipe: false },
  };
}

function clusterBase(i: GenConfigInput, type: "controlplane" | "worker"): Record<string, Json> {
  const etcd = toPemPair(i.secrets.etcd);
  return {
    id: b64(i.secrets.cluster.id),
    secret: b64(i.secrets.cluster.secret),
    clusterName: i.clusterName,
    controlPlane: { endpoint: i.endpoint },
    etcd: { ca: type === "controlplane" ? { crt: b64(etcd.crt), key: b64(etcd.key) } : { crt: b64(etcd.crt) } },
  };
}

const unique = (l: string[]) => [...new Set(l.map((s) => s.trim()).filter((s) => s !== ""))];

export function generateConfigs(i: GenConfigInput): GeneratedConfigs {
  if (!CLUSTER_NAME.test(i.clusterName)) throw new Error(`cluster name ${JSON.stringify(i.clusterName)}: use 1-63 letters, digits, ".", "_" or "-", starting and ending with a letter or digit`);
  const host = endpointHost(i.endpoint);
  if (i.installDisk !== undefined && !/^\/dev\/\S+$/.test(i.installDisk)) throw new Error(`install disk ${JSON.stringify(i.installDisk)} must be a device path like /dev/sda`);
  const extra = i.additionalSans ?? [];
  const build = (type: "controlplane" | "worker", patches: Patch[]): Json => {
    // The endpoint's host names the control plane, so only control-plane certificates carry it.
    const sans = unique(type === "controlplane" ? [host, ...extra] : extra);
    const doc: Json = { version: "v1alpha1", debug: false, machine: machineBase(i, type, sans), cluster: clusterBase(i, type) };
    return applyPatches(doc, [...(i.patches ?? []), ...patches]);
  };
  const controlplane = build("controlplane", i.patchesControlplane ?? []);
  const worker = build("worker", i.patchesWorker ?? []);

  const admin = toPemPair(issueAdminCert(i.secrets.os, i.now));
  const clientConfig: ClientConfig = {
    context: i.clusterName,
    contexts: {
      [i.clusterName]: { endpoints: [host], nodes: [host], ca: b64(toPemPair(i.secrets.os).crt), crt: b64(admin.crt), key: b64(admin.key) },
    },
  };
  return {
    controlplane,
    worker,
    clientConfig,
    files: [
      { name: "controlplane.yaml", content: renderMachineConfig(controlplane, "controlplane", i.clusterName), mode: 0o600 },
      { name: "worker.yaml", content: renderMachineConfig(worker, "worker", i.clusterName), mode: 0o600 },
      { name: "bunkerconfig", content: clientConfigToYaml(clientConfig), mode: 0o600 },
      { name: "secrets.yaml", content: secretsToYaml(i.secrets), mode: 0o600 },
    ],
  };
}

/** Comments put above fields that exist after patching (a patch may have removed some). */
const FIELD_COMMENTS: [string[], string][] = [
  [["machine"], " This machine: its role, its credentials, and how it is installed and set up."],
  [["machine", "type"], " controlplane (holds the CA key, runs etcd and trustd) or worker."],
  [["machine", "token"], " Join token: workers present it to trustd to get their certificates. Keep it secret."],
  [["machine", "ca"], " Cluster CA, base64 of PEM. Only control-plane configs carry its key."],
  [["machine", "certSANs"], " Extra DNS names and IP addresses for this node's API certificate, besides its own addresses."],
  [["machine", "install"], " Where to install: set disk (or diskSelector: {size, model, serial, type, ...}) to this\n machine's system disk. wipe: true erases the whole disk first."],
  [["cluster"], " The cluster: the same in every config of the cluster."],
  [["cluster", "id"], " Cluster identity and shared secret (32 random bytes each, base64)."],
  [["cluster", "controlPlane"], " The API endpoint of the control plane: a node address, a VIP or a load balancer."],
  [["cluster", "etcd"], " etcd CA (ECDSA P-256), base64 of PEM. Only control-plane configs carry its key."],
];

/** Optional sections, shown as an example after the machine section. */
const MACHINE_EXAMPLES = [
  " Optional sections, for example:",
  "   network:",
  "     hostname: node1",
  "     interfaces:",
  "       - interface: eth0",
  "         addresses: [10.5.0.2/24]",
  "         routes: [{network: 0.0.0.0/0, gateway: 10.5.0.1}]",
  "     nameservers: [1.1.1.1]",
  "   time: {servers: [pool.ntp.org]}",
  "   sysctls: {net.ipv4.ip_forward: \"1\"}",
  "   logging: {destinations: [{endpoint: \"udp://10.5.0.1:5140\", format: json_lines}]}",
].join("\n");

export function renderMachineConfig(config: Json, type: "controlplane" | "worker", clusterName: string): string {
  const doc = new Document(config);
  doc.commentBefore = [
    ` Bunker machine config: ${type === "controlplane" ? "a control-plane node" : "a worker node"} of cluster "${clusterName}".`,
    ` Check it with: bunkerctl validate -f ${type}.yaml`,
    ...(type === "controlplane" ? [" It holds the cluster CA keys: keep it as private as secrets.yaml."] : []),
  ].join("\n");
  for (const [path, text] of FIELD_COMMENTS) comment(doc, path, text);
  const machine = doc.getIn(["machine"], true);
  if (isMap(machine)) (machine as YAMLMap).comment = MACHINE_EXAMPLES;
  return doc.toString({ lineWidth: 0 });
}
