/**
 * Who may call what. Roles travel in the client certificate's Subject O (and, from apid to init,
 * in the x-bunker-roles metadata). Each RPC lists the roles that may call it; an RPC missing
 * from the table is admin-only, and a caller with no known role is denied everything.
 * Maintenance mode (a node with no config, no client certificates) has its own, smaller table.
 */
import { MachineService as M, ResourceService as R } from "./gen/services.ts";

export const ROLES = ["os:admin", "os:operator", "os:reader", "os:etcd:backup"] as const;
export type Role = (typeof ROLES)[number];

/**
 * Not a role for people: node certificates carry it so one node's apid can relay a call it has
 * already checked to another node, whose apid then applies the relayed caller's roles. By itself
 * it allows no RPC (it is in no table entry).
 */
export const IMPERSONATOR = "os:impersonator";

const ADMIN: readonly Role[] = ["os:admin"];
const OPERATOR: readonly Role[] = ["os:admin", "os:operator"];
const READER: readonly Role[] = ["os:admin", "os:operator", "os:reader"];
const ETCD_BACKUP: readonly Role[] = ["os:admin", "os:etcd:backup"];

/**
 * RPC path -> roles allowed. Admin-only RPCs are listed too, so this table (and docs/api.md,
 * generated from it) shows every decision; leaving one out would mean the same.
 * os:etcd:backup grants EtcdSnapshot only.
 */
export const METHOD_ROLES: ReadonlyMap<string, readonly Role[]> = new Map([
  // Reads of state: every role that can operate the node.
  [M.Version.path, READER],
  [M.Hostname.path, READER],
  [M.ServiceList.path, READER],
  [M.Logs.path, READER],
  [M.Dmesg.path, READER],
  [M.Events.path, READER],
  [M.Memory.path, READER],
  [M.LoadAvg.path, READER],
  [M.CPUInfo.path, READER],
  [M.SystemStat.path, READER],
  [M.Processes.path, READER],
  [M.Mounts.path, READER],
  [M.Netstat.path, READER],
  [M.Disks.path, READER],
  [R.Get.path, READER],
  [R.List.path, READER],
  [R.Watch.path, READER],
  // Disruptive but not destructive: operators.
  [M.ServiceStart.path, OPERATOR],
  [M.ServiceStop.path, OPERATOR],
  [M.ServiceRestart.path, OPERATOR],
  [M.Reboot.path, OPERATOR],
  [M.Shutdown.path, OPERATOR],
  // Change the node, read its files, or mint credentials: admins.
  [M.ApplyConfiguration.path, ADMIN],
  [M.ConfirmConfiguration.path, ADMIN],
  // The config with its secrets (CA keys, token): only those who may replace it may read it.
  [M.MachineConfiguration.path, ADMIN],
  // META holds machine tokens and overrides that change how the node boots: read too is admin's.
  [M.MetaRead.path, ADMIN],
  [M.MetaWrite.path, ADMIN],
  [M.MetaDelete.path, ADMIN],
  [M.Reset.path, ADMIN],
  [M.List.path, ADMIN],
  [M.Read.path, ADMIN],
  [M.GenerateClientConfiguration.path, ADMIN],
  [M.Upgrade.path, ADMIN],
  [M.Rollback.path, ADMIN],
  // Starts a cluster's etcd: once per cluster, by an admin.
  [M.Bootstrap.path, ADMIN],
  [M.EtcdRemoveMember.path, ADMIN],
  [M.EtcdLeaveCluster.path, ADMIN],
  [M.EtcdForfeitLeadership.path, ADMIN],
  [M.EtcdDefragment.path, ADMIN],
  [M.EtcdAlarmDisarm.path, ADMIN],
  // A snapshot to recover from: it becomes the cluster's whole data.
  [M.EtcdRecoverUpload.path, ADMIN],
  [M.EtcdAlarmList.path, READER],
  // The whole of etcd's data: admins, and the backup role made for it.
  [M.EtcdSnapshot.path, ETCD_BACKUP],
]);

/** What maintenance mode (no config yet, no client certificate asked) lets anyone call. */
export const MAINTENANCE_METHODS: ReadonlySet<string> = new Set([
  M.Version.path,
  M.Hostname.path,
  M.Disks.path,
  M.ApplyConfiguration.path,
  // Read-only status an installer needs to pick a disk and check the machine.
  M.Memory.path,
  M.LoadAvg.path,
  M.CPUInfo.path,
]);

export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}

/**
 * The known roles among certificate Subject O values (or any strings); unknown ones listed apart.
 * Matching is exact, byte for byte: " os:admin " is not os:admin. Trimming would grant a role the
 * CA never wrote (a template that pads fields, a look-alike an issuer's filter let through).
 */
export function parseRoles(values: string | readonly string[] | undefined): { roles: Role[]; unknown: string[] } {
  const list = values === undefined ? [] : typeof values === "string" ? [values] : values;
  const roles: Role[] = [];
  const unknown: string[] = [];
  for (const v of list) {
    if (isRole(v)) { if (!roles.includes(v)) roles.push(v); } else if (v) unknown.push(v);
  }
  return { roles, unknown };
}

/** Roles as one metadata value ("os:admin,os:reader"), and back (unknown names dropped). */
export function formatRoleList(roles: readonly Role[]): string {
  return roles.join(",");
}
export function parseRoleList(value: string | undefined): Role[] {
  return parseRoles(value ? value.split(",") : []).roles;
}

/** The roles that may call an RPC: its table entry, or admin-only when it has none. */
export function rolesFor(path: string): readonly Role[] {
  return METHOD_ROLES.get(path) ?? ADMIN;
}

export interface Decision {
  allowed: boolean;
  /** Why, in words fit for a PERMISSION_DENIED message. */
  reason: string;
  /** Refused because the caller holds none of the roles the call needs (another certificate would do). */
  roleMissing?: boolean;
}

/** Services of package bunker.internal: init's local socket only, for no role at all. */
export function isInternal(path: string): boolean {
  return path.startsWith("/bunker.internal.");
}

/** May a caller holding `roles` call `path`? Deny by default. */
export function authorize(path: string, roles: readonly Role[]): Decision {
  const method = path.slice(path.lastIndexOf("/") + 1) || path;
  if (isInternal(path)) return { allowed: false, reason: `${method} is internal to the node: served only on init's local socket, to no role` };
  const needed = rolesFor(path);
  const match = roles.find((r) => needed.includes(r));
  if (match) return { allowed: true, reason: `${match} may call ${method}` };
  const held = roles.length ? roles.join(", ") : "no role";
  return { allowed: false, reason: `${method} needs one of ${needed.join(", ")}; the caller has ${held}`, roleMissing: true };
}

/** May anyone call `path` on a node in maintenance mode? */
export function authorizeMaintenance(path: string): Decision {
  const method = path.slice(path.lastIndexOf("/") + 1) || path;
  return MAINTENANCE_METHODS.has(path)
    ? { allowed: true, reason: `${method} is open in maintenance mode` }
    : { allowed: false, reason: `${method} is not available in maintenance mode (the node has no config yet); apply a config first` };
}
