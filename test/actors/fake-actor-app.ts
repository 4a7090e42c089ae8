// An in-process app that serves the JS SDK's actor endpoints (GET /dapr/config, PUT /actors/{type}/{id}/method/
// {method}, .../method/timer/{name}, .../method/remind/{name}, DELETE /actors/{type}/{id}) through the
// ActorAppChannel interface, and uses the block as its sidecar API (state, timers, nested calls).
import type { AppRequest, AppResponse } from "../../src/app/channel.js";
import type { ActorsBlock } from "../../src/blocks/actors/actors-block.js";
import type { ActorAppChannel } from "../../src/blocks/actors/app-client.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
const json = (status: number, value: unknown, headers: Record<string, string> = {}): AppResponse => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: enc.encode(JSON.stringify(value)),
});

export interface Fired {
  kind: "timer" | "remind";
  actor: string;
  name: string;
  body: Record<string, unknown>;
}

export class FakeActorApp implements ActorAppChannel {
  readonly configured = true;
  readonly protocol = "http" as const;
  block?: ActorsBlock;
  config: Record<string, unknown> = {
    entities: ["Counter"],
    actorIdleTimeout: "1m",
    actorScanInterval: "10s",
    drainOngoingCallTimeout: "5s",
    reentrancy: { enabled: true, maxStackDepth: 4 },
  };
  readonly requests: AppRequest[] = [];
  readonly fired: Fired[] = [];
  readonly deactivated: string[] = [];
  /** Resolved by a test to let "hold" calls return. */
  release: () => void = () => {};
  private held: Promise<void> = Promise.resolve();
  cancelReminders = false;

  hold(): void {
    this.held = new Promise((resolve) => (this.release = resolve));
  }

  async http(req: AppRequest): Promise<AppResponse> {
    this.requests.push(req);
    if (req.method === "GET" && req.path === "dapr/config") return json(200, this.config);
    const parts = req.path.split("/").map(decodeURIComponent);
    if (parts[0] !== "actors") return json(404, { error: "not found" });
    const [, type, id] = parts as [string, string, string];
    if (req.method === "DELETE" && parts.length === 3) {
      this.deactivated.push(`${type}/${id}`);
      return { status: 200, headers: {}, body: new Uint8Array() };
    }
    if (req.method !== "PUT" || parts[3] !== "method") return json(404, { error: "no route" });
    if (parts[4] === "timer" || parts[4] === "remind") {
      this.fired.push({ kind: parts[4], actor: `${type}/${id}`, name: parts[5]!, body: JSON.parse(dec.decode(req.body)) });
      return json(200, "ok", this.cancelReminders ? { "x-daprremindercancel": "true" } : {});
    }
    return this.method(type, id, parts.slice(4).join("/"), req);
  }

  private async method(type: string, id: string, method: string, req: AppRequest): Promise<AppResponse> {
    const block = this.block!;
    switch (method) {
      case "increment": {
        const current = await block.getState(type, id, "count");
        const n = current ? Number(dec.decode(current.data)) : 0;
        await new Promise((resolve) => setImmediate(resolve)); // let other calls try to interleave
        await block.transaction(type, id, [{ operation: "upsert", key: "count", value: enc.encode(JSON.stringify(n + 1)) }]);
        return json(200, n + 1);
      }
      case "get": {
        const current = await block.getState(type, id, "count");
        return json(200, current ? Number(dec.decode(current.data)) : 0);
      }
      case "echo":
        return { status: 200, headers: { "content-type": "text/plain" }, body: req.body ?? new Uint8Array() };
      case "reenter": {
        const res = await block.invoke({
          actorType: type, actorId: id, method: "get", verb: "PUT", headers: {}, body: new Uint8Array(),
          reentrancyId: req.headers["Dapr-Reentrancy-Id"],
        });
        return json(200, { inner: JSON.parse(dec.decode(res.body)), reentrancyId: req.headers["Dapr-Reentrancy-Id"] });
      }
      case "startTimer":
        await block.registerTimer({ actorType: type, actorId: id, name: "tick", dueTime: "1s", period: "1s", callback: "onTick", data: '{"n":1}' });
        return json(200, "ok");
      case "hold":
        await this.held;
        return json(200, "held");
      case "fail":
        return json(500, { error: "boom" });
      default:
        return json(404, { error: `no method ${method}` });
    }
  }
}
