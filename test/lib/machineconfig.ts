/**
 * A complete, valid machine config for tests that need one (loadConfig checks the whole
 * document): the worker fixture of core/config with its machine.network replaced by `machine`,
 * YAML lines for keys under `machine:` (network, time, ...), indented by two spaces.
 */
import { fixture, edit } from "../../core/config/testdata/fixtures.ts";

const FIXTURE_NETWORK = "  network:\n    interfaces:\n      - interface: eth0\n        dhcp: true\n";

export function workerConfig(machine: string): string {
  return edit(fixture("worker.yaml"), FIXTURE_NETWORK, machine.endsWith("\n") ? machine : `${machine}\n`);
}
