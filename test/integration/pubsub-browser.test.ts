// A real page in headless Chromium (Debian's chromium driven by playwright-core) subscribes through rapr, over a
// WebSocket and over a Connect server stream, and receives events published with the Dapr JS SDK.
// Skips, saying why, when /usr/bin/chromium is missing (.ci/setup.d/chromium.sh installs it).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "bun";
import { CommunicationProtocolEnum, DaprClient, LogLevel } from "@dapr/dapr";
import { signSubscriberToken } from "../../src/blocks/pubsub/outside/tokens.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";

setDefaultTimeout(60_000);

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.log(`pubsub-browser: skipped: ${CHROMIUM} is not installed (bash .ci/setup.d/chromium.sh installs it)`);

const SECRET = "browser-test-secret-9f3Kq2Lx";
const quiet = { error() {}, warn() {}, info() {}, verbose() {}, debug() {} };

describe.skipIf(!haveChromium)("a browser subscribes outside the cluster", () => {
  let sc: Sidecar;
  let pageServer: Server<undefined>;
  let browserCtx: import("playwright-core").BrowserContext | undefined;
  let profile: string;

  beforeAll(async () => {
    sc = await startSidecar({ appId: "browser-edge", args: ["--subscriber-token-secret", SECRET] });
    const config = {
      httpPort: sc.httpPort,
      grpcPort: sc.grpcPort,
      pubsub: "pubsub",
      topic: "prices",
      token: signSubscriberToken(SECRET, { sub: "browser", topics: ["pubsub/prices"] }),
    };
    const html = readFileSync(join(import.meta.dir, "..", "fixtures", "pubsub-browser.html"), "utf8").replace("__CONFIG__", JSON.stringify(config));
    pageServer = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } }) });
    const { chromium } = await import("playwright-core");
    profile = mkdtempSync(join(tmpdir(), "rapr-chromium-"));
    browserCtx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  afterAll(async () => {
    await browserCtx?.close();
    pageServer?.stop(true);
    await sc?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  test("a page from 127.0.0.1 receives SDK-published events over WebSocket and Connect streaming", async () => {
    const page = await browserCtx!.newPage();
    await page.goto(`http://127.0.0.1:${pageServer.port}/`);
    await page.waitForFunction(() => (globalThis as any).ready === true || (globalThis as any).errors.length > 0, undefined, { timeout: 15_000 });
    expect(await page.evaluate(() => (globalThis as any).errors)).toEqual([]);

    const client = new DaprClient({ daprHost: "127.0.0.1", daprPort: String(sc.grpcPort), communicationProtocol: CommunicationProtocolEnum.GRPC, logger: { level: LogLevel.Error, service: quiet } });
    for (const price of [101, 102, 103]) await client.pubsub.publish("pubsub", "prices", { symbol: "RAPR", price });
    await client.stop();

    await page.waitForFunction(() => (globalThis as any).wsEvents.length >= 3 && (globalThis as any).connectEvents.length >= 3, undefined, { timeout: 15_000 });
    const got = await page.evaluate(() => ({ ws: (globalThis as any).wsEvents, connect: (globalThis as any).connectEvents }));
    expect(got.ws.map((e: any) => e.data.price)).toEqual([101, 102, 103]);
    expect(got.connect.map((e: any) => e.data.price)).toEqual([101, 102, 103]);
    expect(got.ws[0]).toMatchObject({ specversion: "1.0", source: "browser-edge", topic: "prices", type: "com.dapr.event.sent" });
  });
});
