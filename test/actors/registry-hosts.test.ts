// RegistryHosts: the same-host registry as the actor hosts view, and the actor forwarder over a PeerLink.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DaprError } from "../../src/errors.js";
import { RegistryHosts } from "../../src/blocks/actors/placement/registry-hosts.js";
import { peerForwarder, servePeerActorCall } from "../../src/blocks/actors/peer-forwarder.js";
import { actorErrors } from "../../src/blocks/actors/errors.js";
import { OwnerUnreachableError } from "../../src/blocks/actors/forwarder.js";
import { TransportError } from "../../src/transport/transport.js";
import type { PeerLink } from "../../src/blocks/invoke/peer-link.js";

const dir = mkdtempSync(join(tmpdir(), "rapr-registry-hosts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ignore = () => {};

test("sidecars see each other's actor types; no types withdraws the entry; a dead process's entry is swept", () => {
  const a = new RegistryHosts(dir, "app.1", ignore);
  const b = new RegistryHosts(dir, "app.2", ignore);
  a.start("default", "mtls://127.0.0.1:1");
  b.start("default", "mtls://127.0.0.1:2");
  a.announce(["Counter"]);
  b.announce(["Counter", "Other"]);
  a.refresh();
  expect(a.hosts.view().hosts).toEqual([
    { id: "app.1", address: "mtls://127.0.0.1:1", actorTypes: { Counter: 0 } },
    { id: "app.2", address: "mtls://127.0.0.1:2", actorTypes: { Counter: 0, Other: 0 } },
  ]);
  const version = a.hosts.view().version;
  a.refresh();
  expect(a.hosts.view().version).toBe(version);

  b.announce([]);
  a.refresh();
  expect(a.hosts.view().hosts.map((h) => h.id)).toEqual(["app.1"]);

  const folder = join(dir, "default", ".actors");
  writeFileSync(join(folder, "gone.json"), JSON.stringify({ id: "gone.1", address: "x", pid: 2 ** 22 + 7, actorTypes: { Counter: 0 } }));
  writeFileSync(join(folder, "junk.json"), "{not json");
  a.refresh();
  expect(a.hosts.view().hosts.map((h) => h.id)).toEqual(["app.1"]);
  expect(readdirSync(folder)).not.toContain("gone.json");

  a.close();
  b.close();
  expect(readdirSync(folder)).toEqual(["junk.json"]);
});

test("another namespace is another registry", () => {
  const a = new RegistryHosts(dir, "ns-a.1", ignore);
  const b = new RegistryHosts(dir, "ns-b.1", ignore);
  a.start("team-a", "a");
  b.start("team-b", "b");
  a.announce(["Counter"]);
  b.announce(["Counter"]);
  a.refresh();
  expect(a.hosts.view().hosts.map((h) => h.id)).toEqual(["ns-a.1"]);
  a.close();
  b.close();
});

test("the forwarder carries calls and their errors through the peer link to the receiving block", async () => {
  const received: unknown[] = [];
  const serve = servePeerActorCall(async (call) => {
    received.push(call);
    if (call.kind === "registerReminder") return undefined;
    if (call.request.actorId === "bad") throw actorErrors.noAddress("Counter||bad");
    return { status: 200, headers: { "x-got": new TextDecoder().decode(call.request.body) }, body: new TextEncoder().encode("ok") };
  });
  let unreachable = 0;
  const link: PeerLink = { address: "self", namespace: "default", request: (_to, req) => serve(req), handle: () => {} };
  const forwarder = peerForwarder(() => link, () => unreachable++);
  const where = { host: "app.2", address: "peer", epoch: 1 };
  const request = { actorType: "Counter", actorId: "x", method: "m", verb: "POST", headers: {}, body: new TextEncoder().encode("hi") };

  const res = await forwarder.forward(where, { kind: "invoke", request, hops: 1 });
  expect(res!.status).toBe(200);
  expect(res!.headers["x-got"]).toBe("hi");
  expect(new TextDecoder().decode(res!.body)).toBe("ok");
  expect(received[0]).toMatchObject({ kind: "invoke", hops: 1, request: { actorId: "x", method: "m" } });

  expect(await forwarder.forward(where, { kind: "registerReminder", request: { actorType: "Counter", actorId: "x", name: "r" }, hops: 1 })).toBeUndefined();

  const err = await forwarder.forward(where, { kind: "invoke", request: { ...request, actorId: "bad" }, hops: 1 }).catch((e) => e);
  expect(err).toBeInstanceOf(DaprError);
  expect(err).toMatchObject({ errorCode: "ERR_ACTOR_NO_ADDRESS", httpStatus: 404, grpcCode: actorErrors.noAddress("k").grpcCode });

  const malformed = await serve({ kind: "actor", path: "invoke", headers: { "rapr-actor-call": "{" }, body: new Uint8Array() });
  expect(malformed.status).toBe(400);
  expect(malformed.headers["rapr-actor-error"]).toBe("ERR_MALFORMED_REQUEST");
  expect(unreachable).toBe(0);

  // An owner that cannot be reached: the view is re-read, and the error says so (the block may go to the new owner).
  let failure = new TransportError("cannot connect to peer: ECONNREFUSED", "unreachable");
  const dead = peerForwarder(() => ({ ...link, request: () => Promise.reject(failure) }), () => unreachable++);
  const lost = await dead.forward(where, { kind: "invoke", request, hops: 1 }).catch((e) => e);
  expect(lost).toBeInstanceOf(OwnerUnreachableError);
  expect(lost.errorCode).toBe("ERR_DIRECT_INVOKE");
  expect(unreachable).toBe(1);
  failure = new TransportError("no answer", "timeout");
  const slow = await dead.forward(where, { kind: "invoke", request, hops: 1 }).catch((e) => e);
  expect(slow).not.toBeInstanceOf(OwnerUnreachableError);
  expect(slow.errorCode).toBe("ERR_DIRECT_INVOKE");
  expect(unreachable).toBe(1);
});
