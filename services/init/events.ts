/**
 * The machine's event history: every sequence, phase, task and service event as an Events
 * resource with a growing zero-padded id, the oldest destroyed past the limit, so `get events -w`
 * works like any other watch.
 */
import type { Store } from "../../core/resources/index.ts";
import { EVENTS, type EventSpec } from "./resources.ts";

export class EventHistory {
  private next = 1;
  private readonly ids: string[] = [];

  constructor(private readonly store: Store, private readonly limit = 1000) {}

  add(source: string, message: string, data?: Record<string, unknown>): void {
    const id = String(this.next++).padStart(8, "0");
    const spec: EventSpec = { time: new Date().toISOString(), source, message, ...(data ? { data } : {}) };
    this.store.create({ ...EVENTS, id }, spec, { owner: "events" });
    this.ids.push(id);
    while (this.ids.length > this.limit) this.store.destroy({ ...EVENTS, id: this.ids.shift()! }, { owner: "events" });
  }
}
