/**
 * A throwaway Ed25519 PKI made with the openssl command (not our code), for tests and benchmarks:
 * a CA, server certificates for 127.0.0.1/localhost and client certificates with roles in
 * Subject O and the EKU asked for.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CertPair {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
}

export interface ClientCertOptions {
  cn?: string;
  /** Subject O values: the roles. */
  roles?: string[];
  /** Extended key usage; default clientAuth; "" leaves the extension out. */
  eku?: string;
  /** Validity in days; negative makes a certificate that already expired. */
  days?: number;
}

function openssl(args: string[], cwd: string): void {
  const p = Bun.spawnSync(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`openssl ${args.slice(0, 2).join(" ")} failed: ${p.stderr.toString()}`);
}

export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), "bunker-pki-"));
  readonly ca: CertPair;
  private serial = 1;

  constructor(readonly name = "ca") {
    this.ca = this.selfSigned(name);
  }

  private pair(base: string): CertPair {
    const certPath = join(this.dir, `${base}.crt`);
    const keyPath = join(this.dir, `${base}.key`);
    return { cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8"), certPath, keyPath };
  }

  private selfSigned(base: string): CertPair {
    openssl(["genpkey", "-algorithm", "ed25519", "-out", `${base}.key`], this.dir);
    openssl(["req", "-x509", "-new", "-key", `${base}.key`, "-out", `${base}.crt`, "-days", "3650",
      "-subj", `/O=bunker/CN=${base}`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], this.dir);
    return this.pair(base);
  }

  /** Signs a leaf for `subject` with the given extensions. */
  private leaf(base: string, subject: string, ext: string[], days: number): CertPair {
    if (base === this.name) throw new Error(`TestPki: a leaf named ${base} would overwrite the CA's files`);
    openssl(["genpkey", "-algorithm", "ed25519", "-out", `${base}.key`], this.dir);
    openssl(["req", "-new", "-key", `${base}.key`, "-out", `${base}.csr`, "-subj", subject], this.dir);
    writeFileSync(join(this.dir, `${base}.ext`), ext.join("\n") + "\n");
    if (days >= 0) {
      openssl(["x509", "-req", "-in", `${base}.csr`, "-CA", `${this.name}.crt`, "-CAkey", `${this.name}.key`,
        "-set_serial", String(this.serial++), "-out", `${base}.crt`, "-extfile", `${base}.ext`, "-days", String(days)], this.dir);
    } else {
      // `openssl x509` (3.0) cannot backdate; `openssl ca` can, with a minimal database.
      writeFileSync(join(this.dir, "index.txt"), "");
      writeFileSync(join(this.dir, "serial.txt"), `${(this.serial++).toString(16).padStart(2, "0")}\n`);
      writeFileSync(join(this.dir, "ca.cnf"), [
        "[ca]", "default_ca = d", "[d]", "database = index.txt", "serial = serial.txt", "new_certs_dir = .", "default_md = default",
        "policy = p", "unique_subject = no", "[p]", "commonName = supplied", "organizationName = optional", "",
      ].join("\n"));
      openssl(["ca", "-batch", "-config", "ca.cnf", "-in", `${base}.csr`, "-out", `${base}.crt`, "-notext",
        "-cert", `${this.name}.crt`, "-keyfile", `${this.name}.key`, "-extfile", `${base}.ext`,
        "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
        "-preserveDN"], this.dir);
    }
    return this.pair(base);
  }

  server(base = "server"): CertPair {
    return this.leaf(base, `/CN=${base}`, [
      "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost",
    ], 2);
  }

  /** A node's API certificate: serves, and authenticates to other nodes as os:impersonator. */
  node(base: string): CertPair {
    return this.leaf(base, `/O=os:impersonator/CN=${base}`, [
      "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth,clientAuth", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost",
    ], 2);
  }

  client(base: string, o: ClientCertOptions = {}): CertPair {
    const subject = (o.roles ?? []).map((r) => `/O=${r}`).join("") + `/CN=${o.cn ?? base}`;
    const eku = o.eku ?? "clientAuth";
    return this.leaf(base, subject, [
      "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature",
      ...(eku ? [`extendedKeyUsage=${eku}`] : []),
    ], o.days ?? 2);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
