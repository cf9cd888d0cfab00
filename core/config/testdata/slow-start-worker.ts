/** The config checker, starting as slowly as a Worker can in an emulated CPU under load. */
export {};
await Bun.sleep(1500);
await import("../parse-worker.ts");
