/**
 * The machine config, version v1alpha1, as a valibot schema: types, defaults and the form of every
 * single value. Checks that relate several values (uniqueness, the CA key by machine type, ...)
 * live in semantic.ts. Every field carries a description: the JSON Schema for editors and the
 * reference in docs/config.md are derived from it.
 */
import * as v from "valibot";
import * as f from "./forms.ts";
import { parseCertificate, parsePrivateKey } from "./pem.ts";
import { secret } from "./redact.ts";

/** A string whose form `check` accepts; the check's message is the error. */
function form(check: f.FormCheck) {
  return v.rawCheck<string>(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const why = check(dataset.value);
    if (why) addIssue({ message: why });
  });
}

const str = (check: f.FormCheck, description: string) =>
  v.pipe(v.string(), form(check), v.metadata({ jsonSchema: f.JSON_SCHEMA_HINTS.get(check) ?? {} }), v.description(description));
const int = (min: number, max: number, description: string) =>
  v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max), v.description(description));
const bool = (def: boolean, description: string) => v.optional(v.pipe(v.boolean(), v.description(description)), def);
const list = <T extends v.GenericSchema>(item: T, description: string) => v.optional(v.pipe(v.array(item), v.description(description)), []);

const certPem = (description: string) => str((s) => { const r = parseCertificate(s); return r.ok ? undefined : r.error; }, description);
const keyPem = (description: string) => secret(str((s) => { const r = parsePrivateKey(s); return r.ok ? undefined : r.error; }, description));

const Route = v.pipe(v.strictObject({
  network: v.optional(str(f.routeNetwork, "Destination prefix, e.g. 0.0.0.0/0 or ::/0. Omitted: the default route of the gateway's family.")),
  gateway: v.optional(str(f.ip, "Next hop address. Omitted: a route on the link itself.")),
  metric: v.optional(int(0, 4294967295, "Route priority; lower wins."), 1024),
  table: v.optional(v.pipe(
    v.number(), v.integer(), v.minValue(1), v.maxValue(4294967295),
    v.check((t) => t !== 255, "table 255 is the kernel's local table, which networkd does not manage"),
    v.description("Routing table id: 254 is the main table; another id (with a policy rule) serves source or policy routing. 255, the kernel's local table, is refused."),
  ), 254),
}), v.description("A static route."));

const addresses = list(str(f.cidr, "An address with its prefix length, e.g. 10.5.0.2/24 or fd00::2/64."), "Static addresses of the link.");
const routes = list(Route, "Static routes through the link.");
const mtu = v.optional(int(68, 65535, "Link MTU in bytes (68-65535). Omitted: the kernel's default (1500 on Ethernet)."));

const Vlan = v.pipe(v.strictObject({
  vlanId: int(1, 4094, "The 802.1Q VLAN id (1-4094); the link is named PARENT.ID."),
  addresses,
  routes,
  dhcp: bool(false, "Obtain an address with DHCP on this VLAN."),
  mtu,
}), v.description("A VLAN on top of the interface."));

export const BOND_MODES = ["balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"] as const;

const Bond = v.pipe(v.strictObject({
  interfaces: v.pipe(v.array(str(f.linkName, "A member link.")), v.minLength(1), v.description("The member links (at least one); they must not be configured as interfaces themselves.")),
  mode: v.optional(v.pipe(v.picklist(BOND_MODES), v.description("The bonding mode.")), "active-backup"),
  miimon: v.optional(int(0, 100000, "Link monitoring interval in ms (0 disables it)."), 100),
}), v.description("Makes this interface a bond of the member links."));

const Interface = v.pipe(v.strictObject({
  interface: str(f.linkName, "The link name (eth0, enp1s0, bond0, ...); unique in the config."),
  addresses,
  routes,
  dhcp: bool(false, "Obtain an address with DHCP."),
  mtu,
  ignore: bool(false, "Leave this link alone: not configured, not brought up."),
  vlans: list(Vlan, "VLANs on this link; ids unique per link."),
  bond: v.optional(Bond),
}), v.description("One network link and its settings."));

const HostEntry = v.pipe(v.strictObject({
  ip: str(f.ip, "The address."),
  aliases: v.pipe(v.array(str(f.hostname, "A host name.")), v.minLength(1), v.description("Names that resolve to the address (at least one).")),
}), v.description("An /etc/hosts entry."));

/** machine.network alone: networkd checks what init hands it with the same rules. */
export const NetworkSchema = v.pipe(v.strictObject({
  hostname: v.optional(str(f.hostname, "The node's host name (RFC 1123). Omitted: derived from the first address or DHCP.")),
  interfaces: list(Interface, "Links to configure. Links not listed are left down unless DHCP finds them."),
  nameservers: list(str(f.ip, "A DNS server address."), "DNS servers. Omitted: the ones DHCP gives."),
  searchDomains: list(str(f.hostname, "A domain."), "DNS search domains."),
  extraHostEntries: list(HostEntry, "Extra /etc/hosts entries."),
}), v.description("Host name, links, addresses, routes and name resolution."));

export const DISK_TYPES = ["ssd", "hdd", "nvme", "sd"] as const;

const DiskSelector = v.pipe(v.strictObject({
  size: v.optional(str(f.sizeCondition, 'Size condition: ">= 10GB", "<= 2TiB", "64GB".')),
  model: v.optional(v.pipe(v.string(), v.description('Model, glob allowed ("QEMU*").'))),
  serial: v.optional(v.pipe(v.string(), v.description("Serial number, glob allowed."))),
  wwid: v.optional(v.pipe(v.string(), v.description("World wide id, glob allowed."))),
  type: v.optional(v.pipe(v.picklist(DISK_TYPES), v.description("The kind of disk."))),
  busPath: v.optional(v.pipe(v.string(), v.description("Bus path, glob allowed (/pci0000:00/*)."))),
}), v.description("Chooses the install disk by its properties; the first match wins."));

/** machine.install.bootDeadline's default: a slow node's boot with room to spare, not a long wait for a hung one. */
export const DEFAULT_BOOT_DEADLINE = "5m";

const Install = v.pipe(v.strictObject({
  disk: v.optional(str(f.devicePath, "The disk to install to, e.g. /dev/sda or /dev/disk/by-id/...; not with diskSelector.")),
  diskSelector: v.optional(DiskSelector),
  wipe: bool(false, "Install over a disk that is not blank: its partition table and the start of every partition are cleared, so everything on it is lost."),
  image: v.optional(v.pipe(v.string(), form(f.imageURL), v.description("URL of the image folder to install; empty: the running image, from the ISO the node booted from (a -kernel or iPXE boot has none to install from).")), ""),
  extraKernelArgs: list(str(f.kernelArg, "A kernel argument, e.g. console=ttyS0."), "Kernel arguments written to the boot entry."),
  bootDeadline: v.optional(str(f.duration, "How long the first boot of an upgraded slot may take to become ready (from kernel start) before the node reboots into the slot it came from (Go duration: 5m, 90s)."), DEFAULT_BOOT_DEADLINE),
}), v.description("Installation to disk (metal and qemu modes)."));

/** machine.time alone (see NetworkSchema). */
export const TimeSchema = v.pipe(v.strictObject({
  disabled: bool(false, "Do not synchronize the clock."),
  // No default here: networkd owns it (pool.ntp.org, below DHCP's servers), so a list the
  // operator writes, even that one, is told apart from none and wins over DHCP.
  servers: v.optional(v.pipe(v.array(str(f.ipOrHostname, "An NTP server.")), v.description("NTP servers. Omitted: the ones DHCP gives, else pool.ntp.org."))),
  bootTimeout: v.optional(str(f.duration, "How long boot waits for a first synchronization (Go duration: 30s, 2m)."), "2m"),
}), v.description("Clock synchronization."));

export const FILE_OPS = ["create", "append", "overwrite"] as const;

const File = v.pipe(v.strictObject({
  path: str(f.writableFilePath, `Absolute path under ${f.WRITABLE_ROOTS.join(", ")}.`),
  // A file written at boot may well be a credential (a service's key or token).
  content: secret(v.pipe(v.string(), v.description("The file's content."))),
  permissions: v.optional(int(0, 0o7777, "Mode bits, 0-0o7777; write them in YAML as 0o644 (0644 is decimal in YAML 1.2)."), 0o644),
  op: v.optional(v.pipe(v.picklist(FILE_OPS), v.description("create: fail if it exists; append: add to it; overwrite: replace it.")), "create"),
}), v.description("A file written at boot."));

export const LOG_FORMATS = ["json_lines"] as const;

const LogDestination = v.pipe(v.strictObject({
  endpoint: str(f.logEndpoint, "udp://HOST:PORT or tcp://HOST:PORT."),
  format: v.optional(v.pipe(v.picklist(LOG_FORMATS), v.description("The wire format: one JSON object per line.")), "json_lines"),
}), v.description("A place service logs are sent to."));

const CA = (keyWhere: string) => v.pipe(v.strictObject({
  crt: certPem("The CA certificate: base64 of its PEM text."),
  key: v.optional(keyPem(`The CA private key: base64 of its PEM text. ${keyWhere}`)),
}), v.description("A certificate authority."));

const Machine = v.pipe(v.strictObject({
  type: v.pipe(v.picklist(["controlplane", "worker"]), v.description("The node's role.")),
  token: secret(str(f.token, "The join token trustd checks before signing a node certificate.")),
  ca: CA("Required on a controlplane, forbidden on a worker."),
  acceptedCAs: list(v.strictObject({ crt: certPem("A CA certificate: base64 of its PEM text.") }), "More CAs whose client certificates are trusted (CA rotation)."),
  certSANs: list(str(f.ipOrDnsName, "An IP address or DNS name."), "Extra names and addresses for the node's API certificate."),
  network: v.optional(NetworkSchema, {}),
  install: v.optional(Install),
  time: v.optional(TimeSchema, {}),
  sysctls: v.optional(v.pipe(
    v.record(v.pipe(v.string(), form(f.sysctlKey), v.metadata({ jsonSchema: f.JSON_SCHEMA_HINTS.get(f.sysctlKey) ?? {} })), v.pipe(v.union([v.string(), v.number()]), v.transform(String), form(f.oneLine))),
    v.description("Kernel parameters: name (net.ipv4.ip_forward) to value."),
  ), {}),
  files: list(File, "Files written at boot."),
  kernel: v.optional(v.pipe(v.strictObject({
    args: list(str(f.kernelArg, "A kernel argument."), "Extra kernel arguments for the next install or upgrade."),
  }), v.description("Kernel settings.")), {}),
  logging: v.optional(v.pipe(v.strictObject({
    destinations: list(LogDestination, "Where the services' and the kernel's log lines are sent, as JSON lines, besides the node's own buffers."),
  }), v.description("Log shipping.")), {}),
}), v.description("Settings of this node."));

const Cluster = v.pipe(v.strictObject({
  id: str(f.base64Of32Bytes, "The cluster's id: base64 of 32 random bytes."),
  secret: secret(str(f.base64Of32Bytes, "The cluster's shared secret: base64 of 32 random bytes.")),
  clusterName: str(f.clusterName, "The cluster's name."),
  controlPlane: v.pipe(v.strictObject({
    endpoint: str(f.httpsEndpoint, "The API endpoint of the control plane: https://HOST:PORT."),
    nodes: list(str(f.ipOrHostname, "An IP address or host name of a control-plane node."),
      "Every control-plane node's address: workers ask each one's trustd when the endpoint does not answer, and apid relays to them."),
  }), v.description("How nodes reach the control plane.")),
  etcd: v.pipe(v.strictObject({
    ca: CA("Required on a controlplane, forbidden on a worker."),
  }), v.description("etcd settings.")),
}), v.description("Settings shared by every node of the cluster."));

export const MachineConfigSchema = v.pipe(v.strictObject({
  version: v.pipe(v.literal("v1alpha1"), v.description("The config format version: v1alpha1.")),
  debug: bool(false, "Verbose logs on the console."),
  machine: Machine,
  cluster: Cluster,
}), v.description("A Bunker machine config."));

/** A machine config after validation, with every default filled in. */
export type MachineConfig = v.InferOutput<typeof MachineConfigSchema>;
/** What an operator may write: defaults may be left out. */
export type MachineConfigInput = v.InferInput<typeof MachineConfigSchema>;
