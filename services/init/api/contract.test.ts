import { expect, test } from "bun:test";
import { singular } from "./contract.ts";

test("the display type of a resource kind is its singular", () => {
  expect(["LinkStatuses", "AddressStatuses", "Processes", "MachineStages", "ResourceDefinitions", "HostnameSpecs"].map(singular))
    .toEqual(["LinkStatus", "AddressStatus", "Process", "MachineStage", "ResourceDefinition", "HostnameSpec"]);
});
