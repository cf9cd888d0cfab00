import { expect, test } from "bun:test";
import { parseDocument } from "yaml";
import { parseClientConfig } from "../clientconfig/clientconfig.ts";
import { parsePatches } from "../configpatch/patch.ts";
import { loadCertificate, checkIssuedBy } from "../pki/x509.ts";
import { fromPemPair } from "../pki/issue.ts";
import { generateSecrets, parseSecrets } from "../secrets/secrets.ts";
import { endpointHost, generateConfigs } from "./genconfig.ts";

const secrets = generateSecrets();
const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");
type Any = any;

function gen(extra: Partial<Parameters<typeof generateConfigs>[0]> = {}) {
  const g = generateConfigs({ clusterName: "demo", endpoint: "https://10.5.0.2:50000", secrets, ...extra });
  const file = (name: string) => g.files.find((f) => f.name === name)!.content;
  return { g, file, cp: parseDocument(file("controlplane.yaml")).toJS() as Any, wk: parseDocument(file("worker.yaml")).toJS() as Any };
}

test("the files, their modes, and the agreed shape of both machine configs", () => {
  const { g, cp, wk } = gen();
  expect(g.files.map((f) => [f.name, f.mode])).toEqual([["controlplane.yaml", 0o600], ["worker.yaml", 0o600], ["bunkerconfig", 0o600], ["secrets.yaml", 0o600]]);
  expect(cp.version).toBe("v1alpha1");
  expect(cp.machine.type).toBe("controlplane");
  expect(wk.machine.type).toBe("worker");
  for (const c of [cp, wk]) {
    expect(c.machine.token).toBe(secrets.token);
    expect(c.cluster.clusterName).toBe("demo");
    expect(c.cluster.controlPlane.endpoint).toBe("https://10.5.0.2:50000");
    expect(Buffer.from(c.cluster.id, "base64")).toEqual(Buffer.from(secrets.cluster.id));
    expect(Buffer.from(c.cluster.secret, "base64")).toEqual(Buffer.from(secrets.cluster.secret));
    expect(c.machine.install).toEqual({ disk: "/dev/sda", wipe: false });
    expect(loadCertificate(unb64(c.machine.ca.crt)).der).toEqual(secrets.os.certificate.der);
    expect(loadCertificate(unb64(c.cluster.etcd.ca.crt)).der).toEqual(secrets.etcd.certificate.der);
  }
  // the controlplane carries both CA keys, matching their certificates; the worker neither
  expect(fromPemPair({ crt: unb64(cp.machine.ca.crt), key: unb64(cp.machine.ca.key) }).certificate.der).toEqual(secrets.os.certificate.der);
  expect(fromPemPair({ crt: unb64(cp.cluster.etcd.ca.crt), key: unb64(cp.cluster.etcd.ca.key) }).key.asymmetricKeyType).toBe("ec");
  expect(wk.machine.ca.key).toBeUndefined();
  expect(wk.cluster.etcd.ca.key).toBeUndefined();
  // the endpoint host is a SAN of control-plane certificates only
  expect(cp.machine.certSANs).toEqual(["10.5.0.2"]);
  expect(wk.machine.certSANs).toBeUndefined();
});

test("the YAML is commented for the operator", () => {
  const { file } = gen();
  const cp = file("controlplane.yaml");
  expect(cp).toStartWith('# Bunker machine config: a control-plane node of cluster "demo".\n');
  expect(cp).toContain("  # Where to install: set disk (or diskSelector");
  expect(cp).toContain("  #   network:\n");
  expect(file("worker.yaml")).not.toContain("keep it as private");
});

test("additional SANs go to both configs; IPv6 endpoints lose their brackets", () => {
  const { cp, wk, g } = gen({ endpoint: "https://[fd00::2]:50000", additionalSans: ["node.example.com", "10.5.0.9", "node.example.com"] });
  expect(cp.machine.certSANs).toEqual(["fd00::2", "node.example.com", "10.5.0.9"]);
  expect(wk.machine.certSANs).toEqual(["node.example.com", "10.5.0.9"]);
  expect(g.clientConfig.contexts.demo!.endpoints).toEqual(["fd00::2"]);
});

test("patches: common first, then per type, merge and JSON patch alike", () => {
  const { cp, wk } = gen({
    installDisk: "/dev/nvme0n1",
    patches: parsePatches("machine:\n  install: {wipe: true}\n  sysctls: {net.ipv4.ip_forward: '1'}\n", "common"),
    patchesControlplane: parsePatches('[{"op":"add","path":"/machine/certSANs/-","value":"cp.example.com"}]', "cp"),
    patchesWorker: parsePatches("machine:\n  install: {disk: /dev/vda}\n  sysctls: null\n", "wk"),
  });
  expect(cp.machine.install).toEqual({ disk: "/dev/nvme0n1", wipe: true });
  expect(cp.machine.sysctls).toEqual({ "net.ipv4.ip_forward": "1" });
  expect(cp.machine.certSANs).toEqual(["10.5.0.2", "cp.example.com"]);
  expect(wk.machine.install).toEqual({ disk: "/dev/vda", wipe: true });
  expect(wk.machine.sysctls).toBeUndefined();
  expect(wk.machine.certSANs).toBeUndefined();
  // a patch that fails names itself
  expect(() => gen({ patchesWorker: parsePatches("[{op: remove, path: /machine/certSANs}]", "w.yaml") })).toThrow("patch w.yaml: operation 0 (remove /machine/certSANs): /machine/certSANs does not exist");
});

test("the client config holds an admin certificate from the cluster CA; secrets.yaml reads back", () => {
  const { g, file } = gen();
  const cc = parseClientConfig(file("bunkerconfig"));
  expect(cc).toEqual(g.clientConfig);
  const ctx = cc.contexts.demo!;
  expect(ctx.endpoints).toEqual(["10.5.0.2"]);
  expect(ctx.nodes).toEqual(["10.5.0.2"]);
  const admin = loadCertificate(unb64(ctx.crt));
  expect(admin.roles).toEqual(["os:admin"]);
  expect(checkIssuedBy(admin, loadCertificate(unb64(ctx.ca)))).toEqual([]);
  expect(fromPemPair({ crt: unb64(ctx.crt), key: unb64(ctx.key) }).certificate.serial).toBe(admin.serial);
  expect(parseSecrets(file("secrets.yaml")).token).toBe(secrets.token);
});

test("bad names, endpoints and disks are refused with what was expected", () => {
  expect(() => gen({ clusterName: "bad name" })).toThrow('cluster name "bad name"');
  expect(() => gen({ endpoint: "10.5.0.2:50000" })).toThrow(/is not a URL|must use https/);
  expect(() => gen({ endpoint: "http://10.5.0.2:50000" })).toThrow("must use https://");
  expect(() => gen({ endpoint: "https://10.5.0.2:50000/api" })).toThrow("without path");
  expect(() => gen({ installDisk: "sda" })).toThrow('install disk "sda" must be a device path');
  expect(endpointHost("https://node1.example.com:50000")).toBe("node1.example.com");
});
