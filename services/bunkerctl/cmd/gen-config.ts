import { join } from "node:path";
import type { Patch } from "../../../core/configpatch/patch.ts";
import { loadPatchArg } from "../../../core/configpatch/patch.ts";
import { DEFAULT_INSTALL_DISK, generateConfigs } from "../../../core/genconfig/genconfig.ts";
import { generateSecrets, loadSecrets } from "../../../core/secrets/secrets.ts";
import { fail, parseCommandArgs } from "../args.ts";
import { writeNewFiles } from "../write-files.ts";

const HELP = `Usage: bunkerctl gen config CLUSTER-NAME https://ENDPOINT:PORT [options]

Generates the configs of a new cluster into the output directory:
  controlplane.yaml   machine config of control-plane nodes (holds the CA keys)
  worker.yaml         machine config of worker nodes
  bunkerconfig        client config with an admin certificate (1 year, O=os:admin)
  secrets.yaml        the secrets bundle (not written with --with-secrets)
All are written with mode 0600. No file is replaced without --force: when any exists, nothing
is written.

Options:
  --output-dir DIR                 where to write (default: the current directory)
  --with-secrets FILE              use this secrets bundle instead of generating one
  --config-patch P                 patch both configs (repeatable)
  --config-patch-controlplane P    patch the control-plane config (repeatable)
  --config-patch-worker P          patch the worker config (repeatable)
  --install-disk PATH              the install disk (default ${DEFAULT_INSTALL_DISK})
  --additional-sans NAME[,NAME]    extra names/addresses for the nodes' API certificates (repeatable)
  --force                          replace existing files

A patch P is a JSON merge patch (a mapping; null deletes a key) or a JSON patch (a list of
{op, path, value} operations), in YAML or JSON, given inline or as @FILE. Common patches apply
first, then the type-specific ones, in the order given.

Example:
  bunkerctl gen config demo https://10.5.0.2:50000 --config-patch '{"machine":{"install":{"wipe":true}}}'`;

export function run(argv: string[]): number {
  const a = parseCommandArgs(argv, HELP, {
    "output-dir": { type: "string" },
    "with-secrets": { type: "string" },
    "config-patch": { type: "string", multiple: true },
    "config-patch-controlplane": { type: "string", multiple: true },
    "config-patch-worker": { type: "string", multiple: true },
    "install-disk": { type: "string" },
    "additional-sans": { type: "string", multiple: true },
    force: { type: "boolean" },
  }, [2, 2]);
  if (typeof a === "number") return a;
  const [clusterName, endpoint] = a.positionals as [string, string];
  const v = a.values;
  const dir = v["output-dir"] ?? ".";
  try {
    const patches = (list: string[] | undefined): Patch[] => (list ?? []).flatMap((p) => loadPatchArg(p));
    const gen = generateConfigs({
      clusterName,
      endpoint,
      secrets: v["with-secrets"] ? loadSecrets(v["with-secrets"]) : generateSecrets(),
      ...(v["install-disk"] !== undefined ? { installDisk: v["install-disk"] } : {}),
      additionalSans: (v["additional-sans"] ?? []).flatMap((s) => s.split(",")),
      patches: patches(v["config-patch"]),
      patchesControlplane: patches(v["config-patch-controlplane"]),
      patchesWorker: patches(v["config-patch-worker"]),
    });
    // The bundle given with --with-secrets already exists; do not copy it around.
    const files = gen.files.filter((f) => !(v["with-secrets"] && f.name === "secrets.yaml"));
    writeNewFiles(files.map((f) => ({ path: join(dir, f.name), content: f.content, mode: f.mode })), v.force ?? false);
  } catch (e) {
    return fail(e);
  }
  return 0;
}
