/** The resource store, its definitions registry and the controller runtime. */
export * from "./resource.ts";
export * from "./store.ts";
export * from "./definitions.ts";
export * from "./controller.ts";
