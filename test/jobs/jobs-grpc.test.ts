// The jobs API over gRPC through the compiled binary: schedule, get (also over HTTP), list, delete by prefix, and
// bad input as InvalidArgument; delivery to a gRPC app through OnJobEventAlpha1.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { anyPack, anyUnpack, StringValueSchema } from "@bufbuild/protobuf/wkt";
import { create, fromBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { JobEventRequestSchema } from "../../src/gen/dapr/proto/runtime/v1/appcallback_pb.js";
import { freePort, waitFor } from "../support/ports.js";
import { Dapr } from "../../src/gen/dapr/proto/runtime/v1/dapr_pb.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";

let sc: Sidecar;
let dapr: Client<typeof Dapr>;

beforeAll(async () => {
  sc = await startSidecar({ args: ["--enable-metrics=false"] });
  dapr = createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${sc.grpcPort}` }));
});

afterAll(async () => {
  await sc?.stop();
});

const data = (text: string) => anyPack(StringValueSchema, create(StringValueSchema, { value: text }));

test("schedule, get, list and delete by prefix", async () => {
  for (const name of ["batch-a", "batch-b", "keep"]) {
    await dapr.scheduleJobAlpha1({ job: { name, schedule: "@every 1h", repeats: 2, data: data(name), failurePolicy: { policy: { case: "drop", value: {} } } } });
  }
  const got = (await dapr.getJobAlpha1({ name: "batch-a" })).job!;
  expect(got).toMatchObject({ name: "batch-a", schedule: "@every 1h", repeats: 2 });
  expect(anyUnpack(got.data!, StringValueSchema)?.value).toBe("batch-a");
  expect(got.failurePolicy?.policy.case).toBe("drop");
  const overHttp = (await (await sc.http("/v1.0-alpha1/jobs/keep")).json()) as { data: { "@type": string } };
  expect(overHttp.data["@type"]).toBe("type.googleapis.com/google.protobuf.StringValue");
  expect((await dapr.listJobsAlpha1({})).jobs.map((j) => j.name).sort()).toEqual(["batch-a", "batch-b", "keep"]);
  await dapr.deleteJobsByPrefixAlpha1({ namePrefix: "batch-" });
  expect((await dapr.listJobsAlpha1({})).jobs.map((j) => j.name)).toEqual(["keep"]);
  await dapr.deleteJobAlpha1({ name: "keep" });
  const missing = await dapr.getJobAlpha1({ name: "keep" }).catch((e) => e);
  expect(ConnectError.from(missing).code).toBe(Code.NotFound);
});

test("a malformed schedule and a job without a schedule or dueTime are InvalidArgument", async () => {
  for (const job of [{ name: "bad", schedule: "61 * * * * *" }, { name: "bad" }, { name: "", dueTime: "1s" }]) {
    const err = await dapr.scheduleJobAlpha1({ job }).catch((e) => e);
    expect(ConnectError.from(err).code).toBe(Code.InvalidArgument);
  }
});

test("a gRPC app gets the job through OnJobEventAlpha1 with its data", async () => {
  const events: { name: string; method: string; text?: string }[] = [];
  const server = new grpc.Server();
  const bytes = (b: Buffer) => b;
  server.addService(
    {
      onJobEventAlpha1: {
        path: "/dapr.proto.runtime.v1.AppCallbackAlpha/OnJobEventAlpha1",
        requestStream: false,
        responseStream: false,
        requestSerialize: bytes,
        requestDeserialize: bytes,
        responseSerialize: bytes,
        responseDeserialize: bytes,
      },
    },
    {
      onJobEventAlpha1: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
        const req = fromBinary(JobEventRequestSchema, call.request);
        events.push({ name: req.name, method: req.method, text: req.data && anyUnpack(req.data, StringValueSchema)?.value });
        done(null, Buffer.alloc(0));
      },
    },
  );
  const appPort = await freePort();
  await new Promise<void>((resolve, reject) => server.bindAsync(`127.0.0.1:${appPort}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  const app = await startSidecar({ args: ["--enable-metrics=false", "--app-port", String(appPort), "--app-protocol", "grpc"] });
  try {
    const client = createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${app.grpcPort}` }));
    await client.scheduleJobAlpha1({ job: { name: "to-grpc", dueTime: "1s", data: data("payload") } });
    await waitFor(() => events.length >= 1, "the job event", 15_000);
    expect(events[0]).toEqual({ name: "to-grpc", method: "job/to-grpc", text: "payload" });
  } finally {
    await app.stop();
    server.forceShutdown();
  }
}, 30_000);
