import { expect, test } from "bun:test";
import { parse } from "yaml";
import { loadConfig } from "./load.ts";
import { isSecret, REDACTED, redactConfig, redactedYaml, scrubText } from "./redact.ts";
import { MachineConfigSchema } from "./schema.ts";
import { schemaAt, type AnySchema } from "./schemawalk.ts";
import { edit, fixture } from "./testdata/fixtures.ts";

const schema = MachineConfigSchema as unknown as AnySchema;
const cp = fixture("controlplane.yaml");
const load = (text: string) => {
  const r = loadConfig(text);
  if (!r.config) throw new Error(JSON.stringify(r.errors));
  return r.config as unknown as Record<string, unknown>;
};

test("the schema marks the secrets: CA keys, token, cluster secret, file contents; certificates are no secret", () => {
  const marked = (path: string) => isSecret(schemaAt(schema, path.split(".").map((p) => (/^\d+$/.test(p) ? Number(p) : p))));
  for (const p of ["machine.ca.key", "cluster.etcd.ca.key", "machine.token", "cluster.secret", "machine.files.0.content"]) expect(marked(p)).toBe(true);
  for (const p of ["machine.ca.crt", "cluster.etcd.ca.crt", "cluster.id", "machine.network.hostname", "machine.files.0.path"]) expect(marked(p)).toBe(false);
});

test("redactConfig replaces every secret and keeps the rest", () => {
  const cfg = load(cp) as { machine: { ca: { crt: string; key: string }; token: string }; cluster: { secret: string; etcd: { ca: { key: string } }; id: string } };
  const { redacted, secrets } = redactConfig(schema, cfg);
  expect(redacted.machine.ca.key).toBe(REDACTED);
  expect(redacted.machine.token).toBe(REDACTED);
  expect(redacted.cluster.secret).toBe(REDACTED);
  expect(redacted.cluster.etcd.ca.key).toBe(REDACTED);
  expect(redacted.machine.ca.crt).toBe(cfg.machine.ca.crt);
  expect(redacted.cluster.id).toBe(cfg.cluster.id);
  expect(secrets).toEqual(expect.arrayContaining([cfg.machine.ca.key, cfg.machine.token, cfg.cluster.secret, cfg.cluster.etcd.ca.key]));
  expect(cfg.machine.ca.key).not.toBe(REDACTED); // the input is left as it was
  const text = JSON.stringify(redacted);
  for (const s of secrets) expect(text).not.toContain(s);
});

test("a secret copied into a field that is not secret (a YAML alias, a sysctl value) is replaced there too", () => {
  const cfg = load(edit(edit(cp, "  token: ", "  token: &t "), "  sysctls:\n", "  sysctls:\n    kernel.domainname: *t\n"));
  const { redacted } = redactConfig(schema, cfg as unknown as { machine: { sysctls: Record<string, string> } });
  expect(redacted.machine.sysctls["kernel.domainname"]).toBe(REDACTED);
  const yaml = redactedYaml(schema, cfg);
  expect(yaml).not.toContain((cfg as { machine: { token: string } }).machine.token);
  expect(parse(yaml).machine.token).toBe(REDACTED);
});

test("a diff's two sides are each redacted with both sides' secrets", () => {
  const a = load(cp) as { machine: { token: string } };
  const b = load(edit(cp, a.machine.token, "zzzzzz.0123456789zzzzzz"));
  const left = redactedYaml(schema, a, redactConfig(schema, b).secrets);
  const right = redactedYaml(schema, b, redactConfig(schema, a).secrets);
  expect(left + right).not.toContain(a.machine.token);
  expect(left + right).not.toContain("zzzzzz.0123456789zzzzzz");
});

test("scrubText removes known secrets and what is shaped like one from free text", () => {
  const key = Buffer.from("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFU/rDsTxSLB9Ay7XPou7WMBOMn1krfwA+dxoRUeSWF\n-----END PRIVATE KEY-----\n").toString("base64");
  expect(scrubText(`state:3:7: bad line near key: ${key}`)).toBe(`state:3:7: bad line near key: ${REDACTED}`);
  expect(scrubText("token abcdef.0123456789abcdef here")).toBe(`token ${REDACTED} here`);
  expect(scrubText("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----")).toBe(REDACTED);
  expect(scrubText("the value s3cret-value-long-enough is wrong", ["s3cret-value-long-enough"])).toBe(`the value ${REDACTED} is wrong`);
  expect(scrubText("machine.network.hostname: expected a host name")).toBe("machine.network.hostname: expected a host name");
});
