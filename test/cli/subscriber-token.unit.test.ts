import { expect, test } from "bun:test";
import { signSubscriberToken, TokenError, verifySubscriberToken } from "../../src/blocks/pubsub/outside/tokens.js";
import { UsageError } from "../../src/cli/flags.js";
import { subscriberToken } from "../../src/cli/subscriber-token.js";

test("a minted token verifies with the same secret and carries subject, topics and expiry", () => {
  const now = 1_800_000_000_000;
  const token = subscriberToken(["--secret", "s3", "--subject", "kiosk-7", "--topics", "pubsub/orders,pubsub/feed.*", "--ttl", "60"], {}, now);
  const claims = verifySubscriberToken("s3", token, now / 1000);
  expect(claims).toEqual({ sub: "kiosk-7", topics: ["pubsub/orders", "pubsub/feed.*"], exp: now / 1000 + 60 });
  expect(() => verifySubscriberToken("other", token, now / 1000)).toThrow(/signature/);
});

test("the secret may come from RAPR_SUBSCRIBER_TOKEN_SECRET; --ttl 0 never expires", () => {
  const token = subscriberToken(["--subject", "d", "--topics", "*", "--ttl", "0"], { RAPR_SUBSCRIBER_TOKEN_SECRET: "env" });
  expect(verifySubscriberToken("env", token).exp).toBeUndefined();
});

test("missing or malformed flags are usage errors naming the flag", () => {
  expect(() => subscriberToken(["--subject", "d", "--topics", "*"], {})).toThrow(UsageError);
  expect(() => subscriberToken(["--secret", "s", "--topics", "*"], {})).toThrow(/--subject/);
  expect(() => subscriberToken(["--secret", "s", "--subject", "d"], {})).toThrow(/--topics/);
  expect(() => subscriberToken(["--secret", "s", "--subject", "d", "--topics", "orders"], {})).toThrow(/"orders" in --topics/);
  expect(() => subscriberToken(["--secret", "s", "--subject", "d", "--topics", "*", "--ttl", "-1"], {})).toThrow(/--ttl/);
});

test("a correctly signed token whose claims have the wrong shapes does not verify", () => {
  for (const claims of [{ sub: "x", topics: [null, 5] }, null, { sub: "x", topics: [] }, { sub: "", topics: ["*"] }, { sub: "x", topics: ["*"], exp: "1" }]) {
    const token = signSubscriberToken("s", claims as never);
    expect(() => verifySubscriberToken("s", token)).toThrow(TokenError);
  }
});
