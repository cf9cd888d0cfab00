/**
 * Who may call init over its unix socket. The kernel names the caller (SO_PEERCRED):
 * - root, or init's own uid (console personalities: `reboot`, `bunker diag`), is admin;
 * - apid's uid carries the roles it verified in `x-bunker-roles` (and `x-bunker-maintenance` in
 *   maintenance mode), which init checks against the same role table again (defence in depth:
 *   a bug in apid's checks alone does not open an RPC);
 * - a service that publishes resources (networkd) is known by its own uid: it may call the
 *   internal ResourcePublisher and read (Get, List, Watch) only the kinds its entry lists (its
 *   config): the server checks the kind in the request (`reads` in the verdict);
 * - a reader uid (the dashboard on tty1: 53) holds os:reader, as a read-only client certificate
 *   would: it shows the node on its screen and must not be able to change it;
 * - anyone else is refused with PERMISSION_DENIED.
 * When apid runs as init's own uid (container mode without root), a call carrying
 * `x-bunker-roles` is judged by those roles; one without is a console call.
 */
import { authorize, authorizeMaintenance, isInternal, parseRoleList, type Role } from "../../../core/api/roles.ts";
import { MachineService, ResourceService } from "../../../core/api/gen/services.ts";
import type { Kind } from "../../../core/resources/index.ts";
import type { Metadata } from "../../../core/grpc/metadata.ts";

export const ROLES_HEADER = "x-bunker-roles";
export const MAINTENANCE_HEADER = "x-bunker-maintenance";

export interface Trust {
  /** uids whose calls are admin (root and init's own uid). */
  adminUids: ReadonlySet<number>;
  /** apid's uid, if apid runs. */
  apidUid?: number;
  /**
   * True while the node is in maintenance mode and no config is being committed: apid's calls
   * then pass only the maintenance table, and only then is apid's maintenance mark honoured.
   */
  maintenance: () => boolean;
  /** The service running as this uid (its own), and the kinds it may read; undefined: none. */
  service?: (uid: number) => { id: string; reads: readonly Kind[] } | undefined;
  /** uids whose calls hold os:reader only (the dashboard's). */
  readerUids?: ReadonlySet<number>;
}

export type Verdict =
  | { allowed: true; roles: readonly Role[]; via: "console" | "apid" }
  /** A service's call: a read must be of one of `reads` (checked on the request). */
  | { allowed: true; roles: readonly Role[]; via: "service"; service: string; reads: readonly Kind[] }
  /** `configTaken`: a maintenance-mode apply after the first config was taken (FAILED_PRECONDITION, REASON.configTaken), not a matter of roles. */
  | { allowed: false; reason: string; configTaken?: boolean; roleMissing?: boolean };

const SERVICE_READS: ReadonlySet<string> = new Set([ResourceService.Get.path, ResourceService.List.path, ResourceService.Watch.path]);

export function authorizeCall(path: string, uid: number, md: Metadata, t: Trust): Verdict {
  const svc = t.adminUids.has(uid) ? undefined : t.service?.(uid);
  if (svc) {
    if (isInternal(path) || SERVICE_READS.has(path)) return { allowed: true, roles: [], via: "service", service: svc.id, reads: svc.reads };
    return { allowed: false, reason: `service ${svc.id} (uid ${uid}) may only publish its resources and read its config, not call ${path}` };
  }
  const relayed = md[ROLES_HEADER];
  const fromApid = uid === t.apidUid && (typeof relayed === "string" || !t.adminUids.has(uid));
  if (fromApid) {
    // The node's state decides, not only apid's word: a node in maintenance only answers the
    // maintenance table, whatever roles arrive; and a call apid took without a certificate is
    // served only while the node really is in maintenance. Once a config is committed, the
    // restarting apid may still pass one on: it is refused, whatever it asks.
    const open = t.maintenance();
    if (md[MAINTENANCE_HEADER] === "1" && !open) {
      return {
        allowed: false, configTaken: path === MachineService.ApplyConfiguration.path,
        reason: "this node is not in maintenance mode (it has a config, or one is being committed): calls without a client certificate are refused, and ApplyConfiguration without one is one-shot; use a client certificate of the cluster",
      };
    }
    if (open) {
      const d = authorizeMaintenance(path);
      return d.allowed ? { allowed: true, roles: [], via: "apid" } : { allowed: false, reason: d.reason };
    }
    const roles = parseRoleList(typeof relayed === "string" ? relayed : undefined);
    const d = authorize(path, roles);
    return d.allowed ? { allowed: true, roles, via: "apid" } : { allowed: false, reason: d.reason, roleMissing: d.roleMissing };
  }
  if (t.adminUids.has(uid)) return { allowed: true, roles: ["os:admin"], via: "console" };
  if (t.readerUids?.has(uid)) {
    const d = authorize(path, ["os:reader"]);
    return d.allowed ? { allowed: true, roles: ["os:reader"], via: "console" } : { allowed: false, reason: `uid ${uid} reads only: ${d.reason}`, roleMissing: d.roleMissing };
  }
  return { allowed: false, reason: `uid ${uid} may not use init's socket (only root, init's uid, apid's, the dashboard's and those of publishing services)` };
}
