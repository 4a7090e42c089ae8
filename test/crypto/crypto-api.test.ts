// The cryptography building block through the compiled binary: dapr.io/enc/v1 over gRPC with the official SDK and
// over HTTP with fetch (the SDK's HTTP client does not implement crypto), Subtle*Alpha1 over gRPC, Dapr's errors.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code } from "@connectrpc/connect";
import { CommunicationProtocolEnum, type DaprClient } from "@dapr/dapr";
import { createHash, generateKeyPairSync, randomBytes, verify as nodeVerify, constants as cryptoConstants } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { componentYaml } from "../support/components.js";
import { sdkClient } from "../support/dapr-sdk.js";
import { grpcError } from "../support/grpc-error.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";

const dir = mkdtempSync(join(tmpdir(), "rapr-crypto-api-"));
const keys = join(dir, "keys");
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
let sc: Sidecar;
let client: DaprClient;

beforeAll(async () => {
  const resources = join(dir, "resources");
  for (const d of [keys, resources]) mkdirSync(d);
  writeFileSync(join(keys, "rsakey.pem"), rsa.privateKey.export({ type: "pkcs8", format: "pem" }));
  writeFileSync(join(keys, "aeskey"), randomBytes(32).toString("base64"));
  writeFileSync(join(resources, "crypto.yaml"), componentYaml("vault", "crypto.dapr.localstorage", { path: keys }));
  // 64 MB: the body-size limit applies to the crypto routes as to every route (as in daprd).
  sc = await startSidecar({ args: ["--resources-path", resources, "--dapr-http-max-request-size", "64"] });
  client = sdkClient(sc, CommunicationProtocolEnum.GRPC);
});

afterAll(async () => {
  await sc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const grpcStub = async () => (client.daprClient as unknown as { getClient(): Promise<any> }).getClient();

const put = (path: string, body: RequestInit["body"], headers: Record<string, string>) =>
  sc.http(`/v1.0-alpha1/crypto/${path}`, { method: "PUT", body, headers, duplex: "half" } as RequestInit);

const encryptHttp = (body: RequestInit["body"], keyName: string, algorithm: string, more: Record<string, string> = {}) =>
  put("vault/encrypt", body, { "dapr-key-name": keyName, "dapr-key-wrap-algorithm": algorithm, ...more });

async function errorOf(res: Response): Promise<{ status: number; errorCode: string; message: string }> {
  const body = (await res.json()) as { errorCode: string; message: string };
  return { status: res.status, ...body };
}

describe("gRPC EncryptAlpha1 / DecryptAlpha1 through the SDK", () => {
  for (const [keyName, keyWrapAlgorithm] of [["rsakey.pem", "RSA"], ["aeskey", "AES"]] as const) {
    test(`round trip with ${keyName} (${keyWrapAlgorithm}), several segments`, async () => {
      const plaintext = randomBytes(200_000);
      const ciphertext = await client.crypto.encrypt(plaintext, { componentName: "vault", keyName, keyWrapAlgorithm });
      expect(ciphertext.subarray(0, 15).toString()).toBe("dapr.io/enc/v1\n");
      const decrypted = await client.crypto.decrypt(ciphertext, { componentName: "vault" });
      expect(Buffer.compare(decrypted, plaintext)).toBe(0);
    });
  }

  test("ChaCha20-Poly1305 payload and an omitted key name (decrypt names the key)", async () => {
    const ciphertext = await client.crypto.encrypt("hello", {
      componentName: "vault", keyName: "aeskey", keyWrapAlgorithm: "A256KW", dataEncryptionCipher: "chacha20-poly1305", omitDecryptionKeyName: true,
    });
    expect(ciphertext.toString()).not.toContain("aeskey");
    expect((await client.crypto.decrypt(ciphertext, { componentName: "vault", keyName: "aeskey" })).toString()).toBe("hello");
  });

  test("tampered ciphertext fails with ERR_CRYPTO", async () => {
    const ciphertext = await client.crypto.encrypt("attack at dawn", { componentName: "vault", keyName: "aeskey", keyWrapAlgorithm: "AES" });
    ciphertext[ciphertext.length - 3] ^= 1;
    const err = await grpcError(() => client.crypto.decrypt(ciphertext, { componentName: "vault" }));
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toContain("failed to perform operation");
  });

  test("options only in the first message, chunks numbered from 0 in order", async () => {
    const stub = await grpcStub();
    const options = { componentName: "vault", keyName: "aeskey", keyWrapAlgorithm: "AES" };
    async function* messages(first: object, ...rest: object[]) {
      yield first;
      yield* rest;
    }
    const drain = async (answers: AsyncIterable<unknown>) => {
      for await (const _ of answers);
    };
    const noOptions = await grpcError(() => drain(stub.encryptAlpha1(messages({ payload: { data: Buffer.from("x"), seq: 0n } }))));
    expect(noOptions.code).toBe(Code.InvalidArgument);
    expect(noOptions.rawMessage).toContain("must contain the options");
    const outOfOrder = await grpcError(() =>
      drain(stub.encryptAlpha1(messages({ options, payload: { data: Buffer.from("a"), seq: 0n } }, { payload: { data: Buffer.from("b"), seq: 2n } }))));
    expect(outOfOrder.code).toBe(Code.InvalidArgument);
    expect(outOfOrder.rawMessage).toContain("invalid sequence number");
  });

  test("unknown component and unknown key", async () => {
    const noComponent = await grpcError(() => client.crypto.encrypt("x", { componentName: "nope", keyName: "aeskey", keyWrapAlgorithm: "AES" }));
    expect(noComponent.code).toBe(Code.InvalidArgument);
    expect(noComponent.rawMessage).toBe("crypto provider nope not found");
    const noKey = await grpcError(() => client.crypto.encrypt("x", { componentName: "vault", keyName: "missing", keyWrapAlgorithm: "AES" }));
    expect(noKey.code).toBe(Code.Internal);
    expect(noKey.rawMessage).toContain("failed to perform operation");
  });
});

describe("gRPC Subtle*Alpha1", () => {
  test("GetKey: PEM and JWK of the public key; unknown key is ERR_CRYPTO_KEY", async () => {
    const stub = await grpcStub();
    const pem = await stub.subtleGetKeyAlpha1({ componentName: "vault", name: "rsakey.pem" });
    expect(pem.name).toBe("rsakey.pem");
    expect(pem.publicKey).toBe(rsa.publicKey.export({ type: "spki", format: "pem" }));
    const jwk = await stub.subtleGetKeyAlpha1({ componentName: "vault", name: "rsakey.pem", format: 1 });
    expect(JSON.parse(jwk.publicKey)).toMatchObject({ kty: "RSA", n: rsa.publicKey.export({ format: "jwk" }).n });
    const err = await grpcError(() => stub.subtleGetKeyAlpha1({ componentName: "vault", name: "missing" }));
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toStartWith("failed to retrieve key missing:");
  });

  test("Encrypt/Decrypt (A256GCM and RSA-OAEP-256), WrapKey/UnwrapKey", async () => {
    const stub = await grpcStub();
    const nonce = randomBytes(12);
    const gcm = await stub.subtleEncryptAlpha1({ componentName: "vault", keyName: "aeskey", algorithm: "A256GCM", plaintext: Buffer.from("secret"), nonce });
    expect(gcm.tag.length).toBe(16);
    const back = await stub.subtleDecryptAlpha1({ componentName: "vault", keyName: "aeskey", algorithm: "A256GCM", ciphertext: gcm.ciphertext, nonce, tag: gcm.tag });
    expect(Buffer.from(back.plaintext).toString()).toBe("secret");
    const oaep = await stub.subtleEncryptAlpha1({ componentName: "vault", keyName: "rsakey.pem", algorithm: "RSA-OAEP-256", plaintext: Buffer.from("rsa secret") });
    const rsaBack = await stub.subtleDecryptAlpha1({ componentName: "vault", keyName: "rsakey.pem", algorithm: "RSA-OAEP-256", ciphertext: oaep.ciphertext });
    expect(Buffer.from(rsaBack.plaintext).toString()).toBe("rsa secret");
    const key = randomBytes(32);
    const wrapped = await stub.subtleWrapKeyAlpha1({ componentName: "vault", keyName: "aeskey", algorithm: "A256KW", plaintextKey: key });
    const unwrapped = await stub.subtleUnwrapKeyAlpha1({ componentName: "vault", keyName: "aeskey", algorithm: "A256KW", wrappedKey: wrapped.wrappedKey });
    expect(Buffer.compare(Buffer.from(unwrapped.plaintextKey), key)).toBe(0);
    const badTag = await grpcError(() =>
      stub.subtleDecryptAlpha1({ componentName: "vault", keyName: "aeskey", algorithm: "A256GCM", ciphertext: gcm.ciphertext, nonce, tag: new Uint8Array(16) }));
    expect(badTag.code).toBe(Code.Internal);
    expect(badTag.rawMessage).toStartWith("failed to perform operation:");
  });

  test("Sign/Verify (PS256 over a SHA-256 digest), checked with node:crypto too", async () => {
    const stub = await grpcStub();
    const digest = createHash("sha256").update("message").digest();
    const { signature } = await stub.subtleSignAlpha1({ componentName: "vault", keyName: "rsakey.pem", algorithm: "PS256", digest });
    expect(nodeVerify("sha256", Buffer.from("message"), { key: rsa.publicKey, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING }, signature)).toBe(true);
    expect((await stub.subtleVerifyAlpha1({ componentName: "vault", keyName: "rsakey.pem", algorithm: "PS256", digest, signature })).valid).toBe(true);
    const other = createHash("sha256").update("other").digest();
    expect((await stub.subtleVerifyAlpha1({ componentName: "vault", keyName: "rsakey.pem", algorithm: "PS256", digest: other, signature })).valid).toBe(false);
  });

  test("an unknown component is ERR_CRYPTO_PROVIDER_NOT_FOUND, a missing name ERR_BAD_REQUEST", async () => {
    const stub = await grpcStub();
    const err = await grpcError(() => stub.subtleSignAlpha1({ componentName: "nope", keyName: "k", algorithm: "PS256", digest: new Uint8Array(32) }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe("crypto provider nope not found");
    expect((await grpcError(() => stub.subtleGetKeyAlpha1({ componentName: "", name: "k" }))).code).toBe(Code.InvalidArgument);
  });
});

describe("HTTP PUT /v1.0-alpha1/crypto/{component}/encrypt|decrypt", () => {
  test("round trip with both keys; the ciphertext decrypts through gRPC too", async () => {
    for (const [keyName, algorithm] of [["rsakey.pem", "RSA-OAEP-256"], ["aeskey", "A256KW"]]) {
      const plaintext = randomBytes(100_000);
      const enc = await encryptHttp(plaintext, keyName, algorithm);
      expect(enc.status).toBe(200);
      expect(enc.headers.get("content-type")).toBe("application/octet-stream");
      const ciphertext = Buffer.from(await enc.arrayBuffer());
      const dec = await put("vault/decrypt", ciphertext, {});
      expect(dec.status).toBe(200);
      expect(Buffer.compare(Buffer.from(await dec.arrayBuffer()), plaintext)).toBe(0);
      expect(Buffer.compare(await client.crypto.decrypt(ciphertext, { componentName: "vault" }), plaintext)).toBe(0);
    }
  });

  test("an empty body round-trips", async () => {
    const enc = await sc.http("/v1.0-alpha1/crypto/vault/encrypt", { method: "PUT", headers: { "dapr-key-name": "aeskey", "dapr-key-wrap-algorithm": "AES" } });
    expect(enc.status).toBe(200);
    const dec = await put("vault/decrypt", await enc.arrayBuffer(), {});
    expect(dec.status).toBe(200);
    expect((await dec.arrayBuffer()).byteLength).toBe(0);
  });

  test("decryption key name header, omitted key name", async () => {
    const enc = await encryptHttp("hi", "aeskey", "aes", { "dapr-omit-decryption-key-name": "true" });
    const ciphertext = Buffer.from(await enc.arrayBuffer());
    expect(await errorOf(await put("vault/decrypt", ciphertext, {}))).toMatchObject({ status: 500, errorCode: "ERR_CRYPTO" });
    const dec = await put("vault/decrypt", ciphertext, { "dapr-key-name": "aeskey" });
    expect(await dec.text()).toBe("hi");
  });

  test("tampered ciphertext is ERR_CRYPTO, not a cut-off 200", async () => {
    const ciphertext = Buffer.from(await (await encryptHttp("attack at dawn", "aeskey", "AES")).arrayBuffer());
    ciphertext[ciphertext.length - 1] ^= 1;
    const err = await errorOf(await put("vault/decrypt", ciphertext, {}));
    expect(err).toMatchObject({ status: 500, errorCode: "ERR_CRYPTO" });
    expect(err.message).toStartWith("failed to perform operation:");
    const header = Buffer.from(await (await encryptHttp("attack at dawn", "aeskey", "AES")).arrayBuffer());
    header[20] ^= 1;
    expect(await errorOf(await put("vault/decrypt", header, {}))).toMatchObject({ status: 500, errorCode: "ERR_CRYPTO" });
  });

  test("Dapr's errors for unknown component and key, missing headers", async () => {
    expect(await errorOf(await put("nope/encrypt", "x", { "dapr-key-name": "aeskey", "dapr-key-wrap-algorithm": "AES" })))
      .toEqual({ status: 400, errorCode: "ERR_CRYPTO_PROVIDER_NOT_FOUND", message: "crypto provider nope not found" });
    expect(await errorOf(await encryptHttp("x", "missing", "AES"))).toMatchObject({ status: 500, errorCode: "ERR_CRYPTO" });
    expect(await errorOf(await put("vault/encrypt", "x", { "dapr-key-wrap-algorithm": "AES" }))).toMatchObject({ status: 400, errorCode: "ERR_BAD_REQUEST" });
    expect(await errorOf(await put("vault/encrypt", "x", { "dapr-key-name": "aeskey" }))).toMatchObject({ status: 400, errorCode: "ERR_BAD_REQUEST" });
    expect(await errorOf(await encryptHttp("x", "aeskey", "ROT13"))).toMatchObject({ status: 500, errorCode: "ERR_CRYPTO" });
  });

  test("50 MB streams through encrypt into decrypt in bounded sidecar memory", async () => {
    const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${sc.proc.pid}/status`, "utf8"))![1]) * 1024;
    await streamThrough(8 * 1024 * 1024); // warms the sidecar's code paths and allocator first
    const before = rss();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rss())), 50);
    try {
      await streamThrough(50 * 1024 * 1024);
    } finally {
      clearInterval(sampler);
    }
    // Buffering either body would take 50 MB at least; streaming holds a few segments (about 15 MB of growth seen).
    expect(peak - before).toBeLessThan(40 * 1024 * 1024);
  }, 120_000);
});

/** `size` bytes of a repeated random MiB piped through HTTP encrypt straight into HTTP decrypt, checked by hash. */
async function streamThrough(size: number): Promise<void> {
  const block = randomBytes(1024 * 1024);
  let sent = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= size) return controller.close();
      controller.enqueue(block);
      sent += block.length;
    },
  }, { highWaterMark: 0 });
  const enc = await encryptHttp(source, "aeskey", "AES");
  expect(enc.status).toBe(200);
  const dec = await put("vault/decrypt", enc.body!, {});
  expect(dec.status).toBe(200);
  const hash = createHash("sha256");
  let received = 0;
  for await (const chunk of dec.body!) {
    hash.update(chunk);
    received += chunk.length;
  }
  expect(received).toBe(size);
  const expected = createHash("sha256");
  for (let i = 0; i < size / block.length; i++) expected.update(block);
  expect(hash.digest("hex")).toBe(expected.digest("hex"));
}

test("a sidecar without crypto components answers ERR_CRYPTO_PROVIDERS_NOT_CONFIGURED", async () => {
  const bare = await startSidecar();
  try {
    const res = await bare.http("/v1.0-alpha1/crypto/vault/encrypt", { method: "PUT", body: "x", headers: { "dapr-key-name": "k", "dapr-key-wrap-algorithm": "AES" } });
    expect(await errorOf(res)).toEqual({ status: 500, errorCode: "ERR_CRYPTO_PROVIDERS_NOT_CONFIGURED", message: "crypto providers not configured" });
  } finally {
    await bare.stop();
  }
});
