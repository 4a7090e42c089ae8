// The conversation API through the compiled binary: conversation.echo over HTTP (alpha1, alpha2) and gRPC (Connect
// client), conversation.openai against a local fake of the Chat Completions API, PII scrubbing, and daprd's errors.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Dapr } from "../../src/gen/dapr/proto/runtime/v1/dapr_pb.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { componentYaml } from "../support/components.js";

setDefaultTimeout(30_000);

interface Seen {
  auth: string | null;
  body: any;
}
const seen: Seen[] = [];
let fake: ReturnType<typeof Bun.serve>;
let sidecar: Sidecar;
let resDir: string;

beforeAll(async () => {
  fake = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (req.method !== "POST" || url.pathname !== "/v1/chat/completions") return new Response("no", { status: 404 });
      const body = (await req.json()) as any;
      seen.push({ auth: req.headers.get("authorization"), body });
      const last = body.messages.at(-1)?.content ?? "";
      if (last === "fail") return Response.json({ error: { message: "quota exceeded" } }, { status: 429 });
      return Response.json({
        model: body.model,
        choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: `you said: ${last}` } }],
        usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
      });
    },
  });
  resDir = mkdtempSync(join(tmpdir(), "rapr-conversation-"));
  writeFileSync(join(resDir, "echo.yaml"), componentYaml("echo", "conversation.echo"));
  writeFileSync(
    join(resDir, "openai.yaml"),
    componentYaml("llm", "conversation.openai", { key: "sk-test", model: "tiny-model", endpoint: `http://127.0.0.1:${fake.port}/v1/`, cacheTTL: "10m" }),
  );
  sidecar = await startSidecar({ args: ["--resources-path", resDir] });
});

afterAll(async () => {
  await sidecar?.stop();
  fake?.stop(true);
  if (resDir) rmSync(resDir, { recursive: true, force: true });
});

const post = (version: string, name: string, body: unknown) =>
  sidecar.http(`/${version}/conversation/${name}/converse`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

const alpha2User = (text: string) => ({ messages: [{ ofUser: { content: [{ text }] } }] });

describe("conversation.echo", () => {
  test("alpha1 over HTTP answers with the last input and keeps the context id", async () => {
    const res = await post("v1.0-alpha1", "echo", { contextID: "ctx-1", inputs: [{ content: "first" }, { content: "hello", role: "user" }] });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ contextID: "ctx-1", outputs: [{ result: "hello" }] });
  });

  test("alpha2 over HTTP answers with choices", async () => {
    const res = await post("v1.0-alpha2", "echo", { inputs: [{ messages: [{ ofSystem: { content: [{ text: "be brief" }] } }, { ofUser: { content: [{ text: "hi there" }] } }] }] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.outputs).toHaveLength(1);
    expect(body.outputs[0].choices).toEqual([{ finishReason: "stop", message: { content: "hi there" } }]);
  });

  test("alpha1 and alpha2 over gRPC", async () => {
    const dapr = createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${sidecar.grpcPort}` }));
    const r1 = await dapr.converseAlpha1({ name: "echo", inputs: [{ content: "ping" }] });
    expect(r1.outputs.map((o) => o.result)).toEqual(["ping"]);
    const r2 = await dapr.converseAlpha2({ name: "echo", inputs: [{ messages: [{ messageTypes: { case: "ofUser", value: { content: [{ text: "pong" }] } } }] }] });
    expect(r2.outputs[0].choices[0].message?.content).toBe("pong");
    const err = await dapr.converseAlpha1({ name: "nope", inputs: [{ content: "x" }] }).catch((e) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).rawMessage).toContain("failed finding conversation component nope");
  });

  test("scrubPII replaces emails, phone numbers and IP addresses in inputs and outputs", async () => {
    const text = "mail jane.doe@example.com or call 555-123-4567 from 10.0.0.12";
    const res = await post("v1.0-alpha1", "echo", { scrubPII: true, inputs: [{ content: text }] });
    expect(((await res.json()) as any).outputs[0].result).toBe("mail <EMAIL_ADDRESS> or call <PHONE_NUMBER> from <IP>");
    const plain = await post("v1.0-alpha1", "echo", { inputs: [{ content: text }] });
    expect(((await plain.json()) as any).outputs[0].result).toBe(text);
    const res2 = await post("v1.0-alpha2", "echo", { scrubPii: true, inputs: [alpha2User("write to a@b.io")] });
    expect(((await res2.json()) as any).outputs[0].choices[0].message.content).toBe("write to <EMAIL_ADDRESS>");
  });
});

describe("conversation.openai against a local fake", () => {
  test("sends the model, the messages and the key; maps the answer and usage", async () => {
    seen.length = 0;
    const res = await post("v1.0-alpha2", "llm", {
      temperature: 0.5,
      promptCacheRetention: "300s",
      parameters: { max_tokens: { "@type": "type.googleapis.com/google.protobuf.Int64Value", value: "100" } },
      tools: [{ function: { name: "lookup", description: "finds things" } }],
      inputs: [{ messages: [{ ofSystem: { content: [{ text: "be kind" }] } }, { ofUser: { content: [{ text: "hello" }] } }] }],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.outputs[0]).toEqual({
      choices: [{ finishReason: "stop", message: { content: "you said: hello" } }],
      model: "tiny-model",
      usage: { completionTokens: "3", promptTokens: "7", totalTokens: "10" },
    });
    expect(seen).toHaveLength(1);
    expect(seen[0].auth).toBe("Bearer sk-test");
    expect(seen[0].body).toEqual({ model: "tiny-model", messages: [{ role: "system", content: "be kind" }, { role: "user", content: "hello" }], temperature: 0.5 });
  });

  test("alpha1 inputs become messages with their roles", async () => {
    seen.length = 0;
    const res = await post("v1.0-alpha1", "llm", { inputs: [{ content: "rules", role: "system" }, { content: "hey" }] });
    expect(await res.json()).toEqual({ outputs: [{ result: "you said: hey" }] });
    expect(seen[0].body.messages).toEqual([{ role: "system", content: "rules" }, { role: "user", content: "hey" }]);
  });

  test("a provider error is ERR_CONVERSATION_INVOKE with the provider's message", async () => {
    const res = await post("v1.0-alpha1", "llm", { inputs: [{ content: "fail" }] });
    expect(res.status).toBe(500);
    const body = (await res.json()) as any;
    expect(body.errorCode).toBe("ERR_CONVERSATION_INVOKE");
    expect(body.message).toContain("quota exceeded");
  });
});

describe("errors", () => {
  test("an unknown component is ERR_CONVERSATION_NOT_FOUND", async () => {
    for (const v of ["v1.0-alpha1", "v1.0-alpha2"]) {
      const res = await post(v, "missing", { inputs: [{ content: "x" }] });
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).errorCode).toBe("ERR_CONVERSATION_NOT_FOUND");
    }
  });

  test("no inputs is ERR_CONVERSATION_MISSING_INPUTS", async () => {
    const res = await post("v1.0-alpha1", "echo", { inputs: [] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).errorCode).toBe("ERR_CONVERSATION_MISSING_INPUTS");
  });

  test("a malformed body is 400 ERR_MALFORMED_REQUEST", async () => {
    for (const body of ["{not json", JSON.stringify({ inputs: "nope" }), JSON.stringify({ inputs: [{ content: 5 }] }), JSON.stringify([1])]) {
      const res = await post("v1.0-alpha1", "echo", body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).errorCode).toBe("ERR_MALFORMED_REQUEST");
    }
    const res = await post("v1.0-alpha2", "echo", { inputs: [{ messages: [{}] }] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).errorCode).toBe("ERR_MALFORMED_REQUEST");
  });
});
