import { expect, test } from "bun:test";
import { MachineService as M, ResourceService as R } from "../../../core/api/gen/services.ts";
import { authorizeCall, type Trust } from "./authorize.ts";

const node: Trust = { adminUids: new Set([0]), apidUid: 50, maintenance: () => false };
const roles = (r: string) => ({ "x-bunker-roles": r });

test("root is admin on the socket; an unknown uid is refused whatever it sends", () => {
  expect(authorizeCall(M.Reset.path, 0, {}, node)).toMatchObject({ allowed: true, via: "console" });
  expect(authorizeCall(M.Version.path, 1000, roles("os:admin"), node)).toEqual({ allowed: false, reason: "uid 1000 may not use init's socket (only root, init's uid and apid's)" });
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

test("in maintenance, apid's calls pass only the maintenance table, by the node's state or apid's mark", () => {
  const maint: Trust = { ...node, maintenance: () => true };
  expect(authorizeCall(M.ApplyConfiguration.path, 50, roles(""), maint).allowed).toBe(true);
  expect(authorizeCall(M.Reboot.path, 50, roles("os:admin"), maint)).toMatchObject({ allowed: false });
  expect(authorizeCall(M.Reboot.path, 50, { ...roles("os:admin"), "x-bunker-maintenance": "1" }, node).allowed).toBe(false);
  expect(authorizeCall(M.Reboot.path, 0, {}, maint).allowed).toBe(true); // the console is not limited
});

test("container mode without root: apid shares init's uid; its calls carry roles, console calls do not", () => {
  const ctr: Trust = { adminUids: new Set([0, 1000]), apidUid: 1000, maintenance: () => false };
  expect(authorizeCall(M.Reboot.path, 1000, roles("os:reader"), ctr).allowed).toBe(false);
  expect(authorizeCall(M.Reboot.path, 1000, {}, ctr)).toMatchObject({ allowed: true, via: "console" });
});
