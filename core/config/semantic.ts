/**
 * Checks that relate several values of a config that is well-typed: uniqueness, the CA keys a
 * machine type must (not) carry, route families, what each mode requires. Errors make the config
 * invalid; warnings name values that are legal but probably not what the operator meant.
 */
import { formatIP, formatCIDR, networkOf, parseCIDR, parseIP, contains, type Family } from "../ip/ip.ts";
import { describeKey, keyMatchesCertificate, parseCertificate, parsePrivateKey } from "./pem.ts";
import type { PathSegment } from "./problem.ts";
import { formatPath } from "./problem.ts";
import type { MachineConfig } from "./schema.ts";
import { parseURL } from "./forms.ts";

/** Where the node will run: decides what is required (`bunkerctl validate --mode`). */
export type Mode = "metal" | "qemu" | "container";
export const MODES: readonly Mode[] = ["metal", "qemu", "container"];

export interface Reporter {
  error(path: PathSegment[], message: string): void;
  warn(path: PathSegment[], message: string): void;
  /** Whether the operator wrote this path (as opposed to a default filling it in). */
  written(path: PathSegment[]): boolean;
  /** The source text of a scalar, to see how it was written. */
  textOf(path: PathSegment[]): string | undefined;
}

type Link = MachineConfig["machine"]["network"]["interfaces"][number];
type Route = Link["routes"][number];

export function checkSemantics(c: MachineConfig, mode: Mode, r: Reporter): void {
  checkCAs(c, r);
  checkNetwork(c, mode, r);
  checkInstall(c, mode, r);
  checkEndpoint(c, r);
  checkFiles(c, r);
  checkContainerIgnores(c, mode, r);
  if (!c.machine.time.disabled && c.machine.time.servers?.length === 0) {
    r.warn(["machine", "time", "servers"], "no NTP server and synchronization not disabled: the clock will not be synchronized (set disabled: true to say so)");
  }
}

function checkCAs(c: MachineConfig, r: Reporter): void {
  const cas: [PathSegment[], { crt: string; key?: string | undefined }, string, string][] = [
    [["machine", "ca"], c.machine.ca, "the cluster CA", "Ed25519"],
    [["cluster", "etcd", "ca"], c.cluster.etcd.ca, "the etcd CA", "ECDSA P-256"],
  ];
  for (const [path, ca, what, expectedAlgorithm] of cas) {
    if (c.machine.type === "controlplane" && ca.key === undefined) {
      r.error(path, `a controlplane needs ${formatPath([...path, "key"])}, the private key of ${what}: it signs certificates`);
    }
    if (c.machine.type === "worker" && ca.key !== undefined) {
      r.error([...path, "key"], `a worker must not carry the private key of ${what}: whoever reads the node could sign any certificate (remove it)`);
    }
    const cert = parseCertificate(ca.crt);
    if (!cert.ok) continue; // the schema reported it
    const algorithm = describeKey(cert.value.publicKey);
    if (algorithm !== expectedAlgorithm) r.warn([...path, "crt"], `${what} is expected to be ${expectedAlgorithm} (as bunkerctl gen config makes it), found ${algorithm}`);
    if (!cert.value.ca) r.warn([...path, "crt"], `the certificate of ${what} is not marked as a CA (basicConstraints CA:FALSE or absent)`);
    if (cert.value.validToDate.getTime() < Date.now()) r.warn([...path, "crt"], `the certificate of ${what} expired on ${cert.value.validToDate.toISOString()}`);
    if (ca.key === undefined) continue;
    const key = parsePrivateKey(ca.key);
    if (key.ok && !keyMatchesCertificate(cert.value, key.value)) {
      r.error([...path, "key"], `the key does not belong to the certificate in ${formatPath([...path, "crt"])} (their public keys differ)`);
    }
  }
}

function family(cidrOrIp: string): Family | undefined {
  return (parseCIDR(cidrOrIp)?.ip ?? parseIP(cidrOrIp))?.family;
}

function checkRoutes(routes: Route[], addresses: string[], dhcp: boolean, at: PathSegment[], r: Reporter): void {
  const seen = new Map<string, number>();
  const subnets = addresses.map(parseCIDR).filter((x) => x !== undefined);
  routes.forEach((route, j) => {
    const p = [...at, "routes", j];
    if (route.network === undefined && route.gateway === undefined) {
      r.error(p, "a route needs a network, a gateway or both");
      return;
    }
    const gwFamily = route.gateway === undefined ? undefined : family(route.gateway);
    const netFamily = route.network === undefined ? gwFamily : family(route.network);
    if (gwFamily !== undefined && netFamily !== gwFamily) {
      r.error([...p, "gateway"], `the gateway is IPv${gwFamily} but the network ${route.network} is IPv${netFamily}: they must be of one family`);
      return;
    }
    // The same destination, next hop and metric twice: the kernel refuses the second (EEXIST).
    const dest = route.network ? formatCIDR(networkOf(parseCIDR(route.network)!)) : `default/${netFamily}`;
    const gw = route.gateway ? formatIP(parseIP(route.gateway)!) : "";
    const id = `${dest} via ${gw} metric ${route.metric}`;
    const first = seen.get(id);
    if (first !== undefined) r.error(p, `duplicate route: the same network, gateway and metric as ${formatPath([...at, "routes", first])}`);
    else seen.set(id, j);
    if (route.gateway && !dhcp && subnets.length > 0 && !subnets.some((s) => contains(s, parseIP(route.gateway!)!))) {
      r.warn([...p, "gateway"], `the gateway ${route.gateway} is in none of this link's subnets (${addresses.join(", ")}): it may be unreachable`);
    }
  });
}

interface LinkLike { addresses: string[]; routes: Route[]; dhcp: boolean; mtu?: number | undefined }

function checkLink(link: LinkLike, at: PathSegment[], r: Reporter, addrSeen: Map<string, PathSegment[]>): void {
  if (link.dhcp && link.addresses.length > 0) {
    r.warn([...at, "addresses"], "static addresses and DHCP on the same link: both will be configured, and DHCP may hand out a conflicting address");
  }
  link.addresses.forEach((a, k) => {
    const c = parseCIDR(a)!;
    const key = formatIP(c.ip);
    const prev = addrSeen.get(key);
    if (prev) r.error([...at, "addresses", k], `the address ${key} is already configured at ${formatPath(prev)}`);
    else addrSeen.set(key, [...at, "addresses", k]);
  });
  if (link.mtu !== undefined) {
    if (link.mtu > 9000) r.warn([...at, "mtu"], `MTU ${link.mtu} is above 9000 (jumbo frames): every switch and peer on the link must support it`);
    if (link.mtu < 1280 && link.addresses.some((a) => family(a) === 6)) r.warn([...at, "mtu"], `MTU ${link.mtu} is below 1280: the kernel disables IPv6 on the link, so its IPv6 addresses will not work`);
  }
  checkRoutes(link.routes, link.addresses, link.dhcp, at, r);
}

function checkNetwork(c: MachineConfig, mode: Mode, r: Reporter): void {
  const ifs = c.machine.network.interfaces;
  const base: PathSegment[] = ["machine", "network", "interfaces"];
  const byName = new Map<string, number>();
  ifs.forEach((link, i) => {
    const prev = byName.get(link.interface);
    if (prev !== undefined) r.error([...base, i, "interface"], `duplicate interface "${link.interface}": already configured at ${formatPath([...base, prev])}`);
    else byName.set(link.interface, i);
  });
  const bondOf = new Map<string, number>();
  const addrSeen = new Map<string, PathSegment[]>();
  ifs.forEach((link, i) => {
    const at = [...base, i];
    if (link.ignore && (link.addresses.length || link.routes.length || link.dhcp || link.vlans.length || link.bond)) {
      r.warn([...at, "ignore"], "the link is ignored, so its other settings have no effect");
    }
    checkLink(link, at, r, addrSeen);
    const vlanIds = new Map<number, number>();
    link.vlans.forEach((vlan, j) => {
      const vat = [...at, "vlans", j];
      const prev = vlanIds.get(vlan.vlanId);
      if (prev !== undefined) r.error([...vat, "vlanId"], `duplicate VLAN id ${vlan.vlanId} on ${link.interface}: already at ${formatPath([...at, "vlans", prev])}`);
      else vlanIds.set(vlan.vlanId, j);
      if (vlan.mtu !== undefined && link.mtu !== undefined && vlan.mtu > link.mtu) {
        r.warn([...vat, "mtu"], `the VLAN's MTU ${vlan.mtu} is above its parent's ${link.mtu}: the kernel will refuse it`);
      }
      checkLink(vlan, vat, r, addrSeen);
    });
    link.bond?.interfaces.forEach((member, j) => {
      const mat = [...at, "bond", "interfaces", j];
      if (member === link.interface) r.error(mat, `the bond ${link.interface} cannot contain itself`);
      else if (byName.has(member)) r.error(mat, `"${member}" is a member of the bond ${link.interface} and also configured at ${formatPath([...base, byName.get(member)!])}: configure a bond member only through its bond`);
      const other = bondOf.get(member);
      if (other !== undefined && other !== i) r.error(mat, `"${member}" is already a member of the bond ${ifs[other]!.interface}`);
      else if (other === i) r.error(mat, `"${member}" is listed twice in this bond`);
      else bondOf.set(member, i);
    });
  });
  const dup = (list: string[], path: PathSegment[], what: string) => {
    const seen = new Set<string>();
    list.forEach((x, k) => { if (seen.has(x)) r.warn([...path, k], `${what} "${x}" is listed twice`); seen.add(x); });
  };
  dup(c.machine.network.nameservers, ["machine", "network", "nameservers"], "the name server");
  dup(c.machine.certSANs, ["machine", "certSANs"], "the name");
  if (mode !== "container" && ifs.length > 0 && ifs.every((l) => l.ignore)) {
    r.warn(base, "every listed interface is ignored: the node may have no network");
  }
}

function checkInstall(c: MachineConfig, mode: Mode, r: Reporter): void {
  const inst = c.machine.install;
  const at: PathSegment[] = ["machine", "install"];
  if (!inst) {
    if (mode === "metal") r.warn(["machine"], "no install disk (machine.install): the node runs from its boot medium and keeps no state across reboots");
    return;
  }
  if (mode === "container") return; // checkContainerIgnores says it is ignored
  if (inst.disk !== undefined && inst.diskSelector !== undefined) {
    r.error([...at, "diskSelector"], "install.disk and install.diskSelector exclude each other: give one");
  } else if (inst.disk === undefined && inst.diskSelector === undefined) {
    r.error(at, `install needs disk (like /dev/sda) or diskSelector in ${mode} mode`);
  }
  if (inst.diskSelector && Object.values(inst.diskSelector).every((x) => x === undefined)) {
    r.error([...at, "diskSelector"], "an empty diskSelector would match any disk: give at least one of size, model, serial, wwid, type, busPath");
  }
  if (inst.wipe) r.warn([...at, "wipe"], "wipe: true installs over whatever the install disk holds: everything on it is lost");
}

function checkEndpoint(c: MachineConfig, r: Reporter): void {
  const url = parseURL(c.cluster.controlPlane.endpoint);
  if (!url) return;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const ip = parseIP(host);
  const at: PathSegment[] = ["cluster", "controlPlane", "endpoint"];
  if ((ip && ((ip.family === 4 && ip.bytes[0] === 127) || (ip.family === 6 && formatIP(ip) === "::1"))) || host === "localhost") {
    r.warn(at, `the endpoint ${host} is a loopback address: other nodes cannot reach it`);
    return;
  }
  if (!ip || c.machine.type !== "controlplane") return;
  // The node's API certificate names its certSANs and its own addresses; a client dialing the
  // endpoint IP checks it against them.
  const own = [
    ...c.machine.certSANs.map(parseIP),
    ...c.machine.network.interfaces.flatMap((l) => [...l.addresses, ...l.vlans.flatMap((v) => v.addresses)]).map((a) => parseCIDR(a)?.ip),
  ];
  if (!own.some((x) => x && formatIP(x) === formatIP(ip))) {
    r.warn(at, `the endpoint address ${host} is not in machine.certSANs nor among this node's addresses: clients will reject the certificate unless the address is a load balancer or a DHCP lease (add it to certSANs)`);
  }
}

function checkFiles(c: MachineConfig, r: Reporter): void {
  const created = new Map<string, number>();
  c.machine.files.forEach((file, i) => {
    const at: PathSegment[] = ["machine", "files", i];
    if (file.op === "create") {
      const prev = created.get(file.path);
      if (prev !== undefined) r.error([...at, "path"], `"${file.path}" is already created by machine.files[${prev}]: use op: append or overwrite`);
      else created.set(file.path, i);
    }
    const text = r.textOf([...at, "permissions"]);
    // Only when YAML 1.2 read it as decimal: under a %YAML 1.1 directive 0644 is octal.
    if (text !== undefined && /^0[0-7]+$/.test(text.trim()) && file.permissions === Number.parseInt(text.trim(), 10)) {
      r.warn([...at, "permissions"], `${text.trim()} is the decimal number ${file.permissions} in YAML 1.2 (mode 0o${file.permissions.toString(8)}); for octal write 0o${text.trim().slice(1)}`);
    }
    if (file.permissions & 0o002) r.warn([...at, "permissions"], `mode 0o${file.permissions.toString(8)} makes the file writable by everyone`);
    if (file.permissions & 0o6000) r.warn([...at, "permissions"], `mode 0o${file.permissions.toString(8)} sets the setuid or setgid bit`);
  });
}

function checkContainerIgnores(c: MachineConfig, mode: Mode, r: Reporter): void {
  if (mode !== "container") return;
  const why = "in container mode the container runtime owns it, so this is ignored";
  const given: [PathSegment[], boolean][] = [
    [["machine", "install"], c.machine.install !== undefined],
    [["machine", "network", "interfaces"], c.machine.network.interfaces.length > 0],
    [["machine", "kernel", "args"], c.machine.kernel.args.length > 0],
    [["machine", "time", "servers"], r.written(["machine", "time", "servers"])],
  ];
  for (const [p, present] of given) if (present) r.warn(p, why);
}
