import { expect, test } from "bun:test";
import { MachineService as M, ResourcePublisher as P, ResourceService as R } from "../../../core/api/gen/services.ts";
import { NETWORK_CONFIGS } from "../../../core/netresources/kinds.ts";
import { authorizeCall, type Trust } from "./authorize.ts";

const node: Trust = { adminUids: new Set([0]), apidUid: 50, maintenance: () => false };
const roles = (r: string) => ({ "x-bunker-roles": r });

test("root is admin on the socket; an unknown uid is refused whatever it sends", () => {
  expect(authorizeCall(M.Reset.path, 0, {}, node)).toMatchObject({ allowed: true, via: "console" });
  expect(authorizeCall(M.Version.path, 1000, roles("os:admin"), node)).toEqual({ allowed: false, reason: "uid 1000 may not use init's socket (only root, init's uid, apid's, the dashboard's and those of publishing services)" });
});

test("the dashboard's uid reads as os:reader and can change nothing", () => {
  const withDashboard: Trust = { ...node, readerUids: new Set([53]) };
  expect(authorizeCall(M.ServiceList.path, 53, {}, withDashboard)).toEqual({ allowed: true, roles: ["os:reader"], via: "console" });
  expect(authorizeCall(M.Dmesg.path, 53, {}, withDashboard).allowed).toBe(true);
  expect(authorizeCall(R.List.path, 53, {}, withDashboard).allowed).toBe(true);
  // Roles it sends are not believed: only apid relays roles.
  expect(authorizeCall(M.Reboot.path, 53, roles("os:admin"), withDashboard)).toEqual({ allowed: false, reason: "uid 53 reads only: Reboot needs one of os:admin, os:operator; the caller has os:reader", roleMissing: true });
  expect(authorizeCall(M.MachineConfiguration.path, 53, {}, withDashboard).allowed).toBe(false);
  expect(authorizeCall(P.Put.path, 53, {}, withDashboard).allowed).toBe(false);
  expect(authorizeCall(M.Version.path, 53, {}, node).allowed).toBe(false); // not listed: refused
});

test("apid's uid is held to the roles it relays, deny by default", () => {
  expect(authorizeCall(M.Version.path, 50, roles("os:reader"), node)).toMatchObject({ allowed: true, roles: ["os:reader"], via: "apid" });
  expect(authorizeCall(R.Watch.path, 50, roles("os:reader"), node).allowed).toBe(true);
  expect(authorizeCall(M.Reboot.path, 50, roles("os:reader"), node)).toMatchObject({ allowed: false, reason: "Reboot needs one of os:admin, os:operator; the caller has os:reader" });
  expect(authorizeCall(M.Reset.path, 50, roles("os:operator"), node).allowed).toBe(false);
  expect(authorizeCall(M.Reset.path, 50, roles("os:admin"), node).allowed).toBe(true);
  expect(authorizeCall(M.Version.path, 50, {}, node).allowed).toBe(false); // no roles header: no roles
  expect(authorizeCall(M.Version.path, 50, roles("os:impersonator,root"), node).allowed).toBe(false);
});

test("in maintenance, apid's calls pass only the maintenance table; its maintenance mark is honoured only in maintenance", () => {
  const maint: Trust = { ...node, maintenance: () => true };
  const mark = { ...roles(""), "x-bunker-maintenance": "1" };
  expect(authorizeCall(M.ApplyConfiguration.path, 50, roles(""), maint).allowed).toBe(true);
  expect(authorizeCall(M.ApplyConfiguration.path, 50, mark, maint).allowed).toBe(true);
  expect(authorizeCall(M.Reboot.path, 50, roles("os:admin"), maint)).toMatchObject({ allowed: false });
  expect(authorizeCall(M.Reboot.path, 50, { ...roles("os:admin"), "x-bunker-maintenance": "1" }, node).allowed).toBe(false);
  // Configured (or committing its first config): a call that came without a certificate is
  // refused whatever it is, an apply as a failed precondition (the maintenance apply is one-shot).
  expect(authorizeCall(M.Version.path, 50, mark, node)).toMatchObject({ allowed: false, configTaken: false });
  expect(authorizeCall(M.Version.path, 50, { ...mark, ...roles("os:admin") }, node).allowed).toBe(false);
  const again = authorizeCall(M.ApplyConfiguration.path, 50, mark, node);
  expect(again).toMatchObject({ allowed: false, configTaken: true });
  expect(again.allowed || again.reason).toMatch(/not in maintenance mode.*one-shot/);
  expect(authorizeCall(M.Reboot.path, 0, {}, maint).allowed).toBe(true); // the console is not limited
});

test("container mode without root: apid shares init's uid; its calls carry roles, console calls do not", () => {
  const ctr: Trust = { adminUids: new Set([0, 1000]), apidUid: 1000, maintenance: () => false };
  expect(authorizeCall(M.Reboot.path, 1000, roles("os:reader"), ctr).allowed).toBe(false);
  expect(authorizeCall(M.Reboot.path, 1000, {}, ctr)).toMatchObject({ allowed: true, via: "console" });
});

test("a publishing service's uid may publish and read its config kinds, nothing else; root is not a service", () => {
  const t: Trust = { ...node, service: (uid) => (uid === 52 ? { id: "networkd", reads: [NETWORK_CONFIGS] } : undefined) };
  expect(authorizeCall(P.Replace.path, 52, {}, t)).toEqual({ allowed: true, roles: [], via: "service", service: "networkd", reads: [NETWORK_CONFIGS] });
  expect(authorizeCall(R.Watch.path, 52, {}, t)).toMatchObject({ allowed: true, via: "service", reads: [NETWORK_CONFIGS] });
  expect(authorizeCall(M.Reboot.path, 52, roles("os:admin"), t)).toEqual({ allowed: false, reason: "service networkd (uid 52) may only publish its resources and read its config, not call /bunker.machine.v1.MachineService/Reboot" });
  expect(authorizeCall(P.Put.path, 1000, {}, t).allowed).toBe(false);
  expect(authorizeCall(M.Version.path, 0, {}, t)).toMatchObject({ allowed: true, via: "console" });
});
