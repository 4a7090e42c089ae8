// Requests fetch will not send, written byte by byte to the compiled rapr: a malformed chunk size in a chunked body,
// and an empty or short Host header. Each gets one clean answer on every port, and nothing is logged as an
// unhandled error.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freePort } from "../support/ports.js";
import { rawHttp, rawRequest, statuses } from "../support/raw-http.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";

let sidecar: Sidecar;
let metricsPort: number;

beforeAll(async () => {
  metricsPort = await freePort();
  sidecar = await startSidecar({ args: ["--metrics-port", String(metricsPort)] });
});
afterAll(async () => {
  await sidecar?.stop();
});

/** Routes that read a body, and one that does not. */
const BODY_ROUTES: [string, string][] = [
  ["POST", "/v1.0/state/statestore"],
  ["POST", "/v1.0/state/statestore/bulk"],
  ["POST", "/v1.0/state/statestore/transaction"],
  ["POST", "/v1.0-alpha1/state/statestore/query"],
  ["PUT", "/v1.0/metadata/team"],
  ["POST", "/v1.0/publish/pubsub/orders"],
  ["POST", "/v1.0-alpha1/publish/bulk/pubsub/orders"],
  ["POST", "/v1.0/bindings/nothing"],
  ["POST", "/v1.0/invoke/nobody/method/hello"],
];

const badChunk = (method: string, path: string, size: string, host: string) =>
  rawRequest(method, path, { host, headers: ["content-type: application/json", "transfer-encoding: chunked"], body: `${size}\r\n[]\r\n0\r\n\r\n` });

describe("a malformed chunk size in a chunked body", () => {
  for (const size of ["zz", "ffffffffffffffff"]) {
    test(`"${size}": a single 400 on every route, whatever the Host (it was a 404 "no API route" first)`, async () => {
      for (const host of [`127.0.0.1:${sidecar.httpPort}`, "x", ""]) {
        for (const [method, path] of BODY_ROUTES) {
          const answer = await rawHttp(sidecar.httpPort, badChunk(method, path, size, host));
          expect({ host, path, statuses: statuses(answer) }).toEqual({ host, path, statuses: [400] });
          expect(answer).not.toContain("ERR_NOT_FOUND");
        }
      }
    });
  }

  test("on the gRPC port's HTTP/1.1 side (Connect) it is a single 400 too", async () => {
    const answer = await rawHttp(sidecar.grpcPort, badChunk("POST", "/dapr.proto.runtime.v1.Dapr/GetMetadata", "zz", "127.0.0.1"));
    expect(statuses(answer)).toEqual([400]);
  });
});

describe("an empty or short Host header", () => {
  test("routes as any other request on the HTTP port (it was a 404, or Bun's error page with source lines)", async () => {
    for (const host of ["", "x", "abc"]) {
      const meta = await rawHttp(sidecar.httpPort, rawRequest("GET", "/v1.0/metadata", { host }));
      expect({ host, statuses: statuses(meta) }).toEqual({ host, statuses: [200] });
      expect(meta).toContain(`"id":"${sidecar.appId}"`);
      const save = await rawHttp(
        sidecar.httpPort,
        rawRequest("POST", "/v1.0/state/statestore", { host, headers: ["content-type: application/json", "content-length: 29"], body: '[{"key":"hosted","value":42}]' }),
      );
      expect({ host, statuses: statuses(save) }).toEqual({ host, statuses: [204] });
      const got = await rawHttp(sidecar.httpPort, rawRequest("GET", "/v1.0/state/statestore/hosted?metadata.x=1", { host }));
      expect(statuses(got)).toEqual([200]);
      expect(got.endsWith("42")).toBe(true);
    }
  });

  test("is a 400 from the gRPC port (it threw inside Connect and the call never answered)", async () => {
    for (const host of ["", undefined]) {
      const answer = await rawHttp(sidecar.grpcPort, rawRequest("POST", "/dapr.proto.runtime.v1.Dapr/GetMetadata", { host, headers: ["content-type: application/json", "content-length: 2"], body: "{}" }));
      expect({ host, statuses: statuses(answer) }).toEqual({ host, statuses: [400] });
      expect(answer).toContain("Host header");
    }
  });

  test("still serves /metrics on the metrics port, and no answer anywhere is Bun's development error page", async () => {
    const answer = await rawHttp(metricsPort, rawRequest("GET", "/metrics", { host: "" }));
    expect(statuses(answer)).toEqual([200]);
    expect(answer).not.toContain("__bunfallback");
  });
});

test("nothing above was logged as an unhandled or uncaught error, and the sidecar is still healthy", async () => {
  expect((await sidecar.http("/v1.0/healthz")).status).toBe(204);
  await sidecar.stop();
  const output = await sidecar.output();
  expect(output).not.toContain("unhandled HTTP API error");
  expect(output).not.toContain("uncaught exception");
});
