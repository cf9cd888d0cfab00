import { expect, test } from "bun:test";
import { MachineService as M, ResourcePublisher, ResourceService as R, allMethods } from "./gen/services.ts";
import { authorize, authorizeMaintenance, formatRoleList, IMPERSONATOR, isInternal, METHOD_ROLES, parseRoleList, parseRoles, rolesFor, type Role } from "./roles.ts";

const may = (path: string, ...roles: Role[]) => authorize(path, roles).allowed;

test("every RPC of the API has an explicit entry (admin-only ones too)", () => {
  const missing = [...allMethods.keys()].filter((p) => !METHOD_ROLES.has(p));
  expect(missing).toEqual([]);
  for (const p of METHOD_ROLES.keys()) expect(allMethods.has(p)).toBe(true);
});

test("reader: read RPCs only", () => {
  for (const m of [M.Version, M.Hostname, M.ServiceList, M.Logs, M.Dmesg, M.Events, M.Memory, M.LoadAvg, M.CPUInfo, M.SystemStat, M.Processes, M.Mounts, M.Netstat, M.Disks, R.Get, R.List, R.Watch]) {
    expect(may(m.path, "os:reader")).toBe(true);
  }
  for (const m of [M.ServiceStart, M.ServiceStop, M.ServiceRestart, M.Reboot, M.Shutdown, M.Reset, M.ApplyConfiguration, M.ConfirmConfiguration, M.List, M.Read, M.GenerateClientConfiguration, M.Upgrade, M.Rollback]) {
    expect(may(m.path, "os:reader")).toBe(false);
  }
});

test("operator adds reboot, shutdown and service control, but not reset, config or files", () => {
  for (const m of [M.ServiceStart, M.ServiceStop, M.ServiceRestart, M.Reboot, M.Shutdown, M.Version, R.Watch]) expect(may(m.path, "os:operator")).toBe(true);
  for (const m of [M.Reset, M.ApplyConfiguration, M.Read, M.List, M.GenerateClientConfiguration, M.Upgrade]) expect(may(m.path, "os:operator")).toBe(false);
});

test("admin may call every RPC; etcd:backup alone gets EtcdSnapshot only; no role, or unknown roles get nothing", () => {
  for (const p of allMethods.keys()) {
    expect(may(p, "os:admin")).toBe(true);
    expect(may(p, "os:etcd:backup")).toBe(p === M.EtcdSnapshot.path);
    expect(may(p)).toBe(false);
  }
});

test("os:impersonator (node certificates) is no role of its own: not parsed as one, allows nothing", () => {
  expect(parseRoles([IMPERSONATOR, "os:reader"])).toEqual({ roles: ["os:reader"], unknown: [IMPERSONATOR] });
  for (const p of allMethods.keys()) expect(authorize(p, [IMPERSONATOR as Role]).allowed).toBe(false);
});

test("an RPC missing from the table is admin-only (a future or unknown method)", () => {
  const future = "/bunker.machine.v1.MachineService/EtcdDefragment";
  expect(rolesFor(future)).toEqual(["os:admin"]);
  expect(may(future, "os:reader", "os:operator")).toBe(false);
  expect(may(future, "os:admin")).toBe(true);
  expect(may("garbage", "os:operator")).toBe(false);
});

test("one allowing role among several is enough; the denial names what is needed", () => {
  expect(may(M.Reboot.path, "os:reader", "os:operator")).toBe(true);
  const d = authorize(M.Reset.path, ["os:operator"]);
  expect(d).toEqual({ allowed: false, reason: "Reset needs one of os:admin; the caller has os:operator", roleMissing: true });
  expect(authorize(M.Version.path, []).reason).toBe("Version needs one of os:admin, os:operator, os:reader; the caller has no role");
});

test("roles from certificate Subject O: known kept once, unknown set apart", () => {
  expect(parseRoles(["os:admin", "bunker", "os:admin", "os:reader"])).toEqual({ roles: ["os:admin", "os:reader"], unknown: ["bunker"] });
  expect(parseRoles("os:reader")).toEqual({ roles: ["os:reader"], unknown: [] });
  expect(parseRoles(undefined)).toEqual({ roles: [], unknown: [] });
  // Look-alikes are not roles.
  expect(parseRoles(["OS:ADMIN", "os:admins"]).roles).toEqual([]);
});

test("roles match exactly: padded or otherwise altered O values are not roles", () => {
  // A CA that signs " os:admin " (say, a template that pads fields) must not have minted an admin.
  for (const v of [" os:admin ", "os:admin ", " os:admin", "os:admin\n", "\tos:admin", "os:admin\u0000", "os:\u0430dmin"]) {
    expect(parseRoles([v])).toEqual({ roles: [], unknown: [v] });
  }
  expect(parseRoles([" os:reader ", "os:operator"]).roles).toEqual(["os:operator"]);
  // The relayed list is written by apid without spaces; a padded entry is no role either.
  expect(parseRoleList("os:reader, os:admin")).toEqual(["os:reader"]);
  expect(parseRoleList(formatRoleList(["os:operator", "os:reader"]))).toEqual(["os:operator", "os:reader"]);
  expect(parseRoleList("os:root,os:reader")).toEqual(["os:reader"]);
  expect(parseRoleList(undefined)).toEqual([]);
});

test("maintenance mode: Version, Disks, ApplyConfiguration and read-only status only", () => {
  for (const m of [M.Version, M.Disks, M.ApplyConfiguration, M.Hostname, M.Memory, M.LoadAvg, M.CPUInfo]) {
    expect(authorizeMaintenance(m.path).allowed).toBe(true);
  }
  const open = [...allMethods.keys()].filter((p) => authorizeMaintenance(p).allowed);
  expect(open.length).toBe(7);
  for (const m of [M.Reset, M.Reboot, M.Shutdown, M.Read, M.List, M.Logs, M.GenerateClientConfiguration, M.ServiceStop, M.Processes, R.Get]) {
    expect(authorizeMaintenance(m.path).allowed).toBe(false);
  }
  expect(authorizeMaintenance(M.Reset.path).reason).toContain("apply a config first");
});

test("internal services (ResourcePublisher) are refused to every role, admin included", () => {
  for (const m of Object.values(ResourcePublisher)) {
    expect(isInternal(m.path)).toBe(true);
    expect(authorize(m.path, ["os:admin", "os:operator", "os:reader"])).toEqual({ allowed: false, reason: `${m.name} is internal to the node: served only on init's local socket, to no role` });
    expect(authorizeMaintenance(m.path).allowed).toBe(false);
  }
  expect(isInternal(M.Version.path)).toBe(false);
});

test("os:etcd:backup may take etcd snapshots and nothing else; the other etcd RPCs are admin-only", () => {
  expect(authorize(M.EtcdSnapshot.path, ["os:etcd:backup"]).allowed).toBe(true);
  expect(authorize(M.EtcdSnapshot.path, ["os:admin"]).allowed).toBe(true);
  expect(authorize(M.EtcdSnapshot.path, ["os:operator"]).allowed).toBe(false);
  for (const m of [M.Bootstrap, M.EtcdRemoveMember, M.EtcdLeaveCluster, M.EtcdAlarmList, M.EtcdRecoverUpload, M.MetaRead, M.Version, M.Reboot]) expect(authorize(m.path, ["os:etcd:backup"]).allowed).toBe(false);
  const adminOnly = [M.Bootstrap, M.EtcdRemoveMember, M.EtcdLeaveCluster, M.EtcdForfeitLeadership, M.EtcdDefragment, M.EtcdAlarmDisarm, M.EtcdRecoverUpload, M.MetaRead, M.MetaWrite, M.MetaDelete];
  for (const m of adminOnly) {
    expect(authorize(m.path, ["os:admin"]).allowed).toBe(true);
    expect(authorize(m.path, ["os:operator"]).allowed).toBe(false);
  }
  // The alarms are state to read, like the members.
  expect(authorize(M.EtcdAlarmList.path, ["os:reader"]).allowed).toBe(true);
});
