/**
 * The machine config library: load and validate v1alpha1 configs, describe problems, classify
 * changes (live or reboot) and export the JSON Schema. Import from here.
 */
export { loadConfig, MAX_CONFIG_BYTES, oversizeMessage, type LoadOptions, type LoadResult } from "./load.ts";
export { MachineConfigSchema, NetworkSchema, TimeSchema, type MachineConfig, type MachineConfigInput } from "./schema.ts";
export { parseConfig, DEFAULT_DEADLINE, type Duration, type ParsedConfig } from "./parsed.ts";
export { parseNetworkSections, type InterfaceConfig, type NetworkConfig, type NetworkSections, type RouteConfig, type VlanConfig } from "./network.ts";
export { formatProblems, formatPath, ROOT_PATH, type Problem, type PathSegment } from "./problem.ts";
export { MODES, type Mode } from "./semantic.ts";
export { applyEffect, diffConfigs, splitPath, APPLY_EFFECTS, type ApplyEffect, type ChangeKind, type ConfigChange } from "./effects.ts";
export { loadConfigOffThread, ConfigCheckError, type OffThreadOptions } from "./offthread.ts";
