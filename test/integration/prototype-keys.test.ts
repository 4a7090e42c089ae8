// Names that Object.prototype also has (__proto__, constructor, toString, hasOwnProperty, valueOf) are ordinary
// names everywhere outside input keys a lookup: a missing secret so named is not found, a real one is found, and
// none reaches an inherited member. Against the compiled binary, over HTTP and gRPC.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Dapr } from "../../src/gen/dapr/proto/runtime/v1/dapr_pb.js";
import { componentYaml } from "../support/components.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";

/** A response body as loosely typed JSON, for assertions. */
const jsonOf = (r: Response): Promise<any> => r.json();

const PROTOTYPE_NAMES = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"];

let dir: string;
let sidecar: Sidecar;
let grpc: Client<typeof Dapr>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "rapr-proto-"));
  // Written as text: a JS object literal would take "__proto__" as its prototype.
  writeFileSync(join(dir, "secrets.json"), '{"db": {"password": "s3cr3t"}, "constructor": "a real one"}');
  writeFileSync(join(dir, "named.json"), '{"__proto__": "named so", "plain": "p"}');
  writeFileSync(
    join(dir, "components.yaml"),
    [
      componentYaml("files", "secretstores.local.file", { secretsFile: join(dir, "secrets.json") }),
      componentYaml("named", "secretstores.local.file", { secretsFile: join(dir, "named.json") }),
      componentYaml("env", "secretstores.local.env", { prefix: "RAPR_PROTO_TEST_" }),
      componentYaml("mem", "state.in-memory"),
      // secretKeyRef to a key the secret does not have, named like an inherited member: a load failure, not a
      // function handed to the component as its metadata value.
      [
        "apiVersion: dapr.io/v1alpha1",
        "kind: Component",
        "metadata:",
        "  name: leaky",
        "spec:",
        "  type: state.in-memory",
        "  version: v1",
        "  ignoreErrors: true",
        "  metadata:",
        "    - name: anything",
        "      secretKeyRef: { name: \"db:password\", key: toString }",
        "auth:",
        "  secretStore: files",
        "",
      ].join("\n"),
    ].join("---\n"),
  );
  sidecar = await startSidecar({ args: ["--resources-path", dir], env: { RAPR_PROTO_TEST_visible: "v" } });
  grpc = createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${sidecar.grpcPort}` }));
}, 30_000);

afterAll(async () => {
  await sidecar?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function grpcCode(call: () => Promise<unknown>): Promise<Code | "OK"> {
  try {
    await call();
    return "OK";
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

describe("secret stores", () => {
  test("a secret named like an Object.prototype member that does not exist is ERR_SECRET_GET (500), in local.file and local.env", async () => {
    for (const store of ["files", "env"]) {
      for (const name of PROTOTYPE_NAMES.filter((n) => !(store === "files" && n === "constructor"))) {
        const res = await sidecar.http(`/v1.0/secrets/${store}/${name}`);
        const body = await jsonOf(res);
        expect({ store, name, status: res.status, errorCode: body.errorCode }).toEqual({ store, name, status: 500, errorCode: "ERR_SECRET_GET" });
        expect(body.message).toContain("not found");
      }
    }
  });

  test("the same over gRPC GetSecret is INTERNAL, as daprd answers a missing secret", async () => {
    for (const name of PROTOTYPE_NAMES.filter((n) => n !== "constructor")) {
      expect({ name, code: await grpcCode(() => grpc.getSecret({ storeName: "files", key: name })) }).toEqual({ name, code: Code.Internal });
      expect({ name, code: await grpcCode(() => grpc.getSecret({ storeName: "env", key: name })) }).toEqual({ name, code: Code.Internal });
    }
  });

  test("secrets really named so are found, one and in bulk, over HTTP and gRPC", async () => {
    expect(await jsonOf(await sidecar.http("/v1.0/secrets/files/constructor"))).toEqual({ constructor: "a real one" });
    expect(await jsonOf(await sidecar.http("/v1.0/secrets/named/__proto__"))).toEqual(JSON.parse('{"__proto__": "named so"}'));
    expect((await grpc.getSecret({ storeName: "files", key: "constructor" })).data).toEqual({ constructor: "a real one" });
    const bulk = await jsonOf(await sidecar.http("/v1.0/secrets/named/bulk"));
    expect(Object.keys(bulk).sort()).toEqual(["__proto__", "plain"]);
    expect(Object.getOwnPropertyDescriptor(bulk, "__proto__")?.value).toEqual(JSON.parse('{"__proto__": "named so"}'));
    expect(await jsonOf(await sidecar.http("/v1.0/secrets/env/visible"))).toEqual({ visible: "v" });
  });

  test("a secretKeyRef to a key named toString that the secret lacks fails the component (ignoreErrors keeps rapr up)", async () => {
    const meta = await jsonOf(await sidecar.http("/v1.0/metadata"));
    const names = meta.components.map((c: { name: string }) => c.name);
    expect(names).toEqual(expect.arrayContaining(["files", "named", "env", "mem"]));
    expect(names).not.toContain("leaky");
  });
});

test("a state query on a field named toString or constructor matches only documents that have one", async () => {
  const save = await sidecar.http("/v1.0/state/mem", { method: "POST", body: JSON.stringify([{ key: "a", value: { n: 1 } }, { key: "b", value: { n: 2, toString: "z" } }]) });
  expect(save.status).toBe(204);
  for (const field of ["toString", "constructor"]) {
    const res = await sidecar.http("/v1.0-alpha1/state/mem/query", { method: "POST", body: JSON.stringify({ filter: { GT: { [field]: "" } } }) });
    expect(res.status).toBe(200);
    const keys = ((await jsonOf(res)).results as { key: string }[]).map((r) => r.key);
    expect({ field, keys }).toEqual({ field, keys: field === "toString" ? ["b"] : [] });
  }
});

test("extended metadata keys named __proto__ and constructor are stored and listed like any other", async () => {
  for (const key of ["__proto__", "constructor"]) {
    expect((await sidecar.http(`/v1.0/metadata/${key}`, { method: "PUT", body: `value of ${key}` })).status).toBe(204);
  }
  const extended = (await jsonOf(await sidecar.http("/v1.0/metadata"))).extended;
  expect(Object.getOwnPropertyDescriptor(extended, "__proto__")?.value).toBe("value of __proto__");
  expect(Object.getOwnPropertyDescriptor(extended, "constructor")?.value).toBe("value of constructor");
});
