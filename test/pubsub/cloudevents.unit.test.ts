// What the sidecar makes of bytes off the broker, and when it may hand them to the app unchanged.
import { expect, test } from "bun:test";
import { eventFromBroker } from "../../src/blocks/pubsub/cloudevents.js";

const fill = { topic: "t", pubsubName: "p" };
const enc = new TextEncoder();

test("a clean JSON CloudEvent goes to the app as the same bytes", () => {
  const bytes = enc.encode('{"specversion":"1.0","id":"1","source":"s","type":"x","data":{"n":1}}');
  const e = eventFromBroker(bytes, undefined, fill);
  expect(e.ce.id).toBe("1");
  expect(e.verbatim).toBe(bytes);
});

test("a BOM, leading whitespace or invalid UTF-8 means the event is serialized again, clean", () => {
  const ce = '{"specversion":"1.0","id":"1","source":"s","type":"x","data":"é"}';
  const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...enc.encode(ce)]);
  const badUtf8 = enc.encode(ce.replace("é", "\u0001"));
  badUtf8[badUtf8.indexOf(0x01)] = 0xff;
  for (const bytes of [withBom, enc.encode(` ${ce}`), badUtf8]) {
    const e = eventFromBroker(bytes, "application/cloudevents+json", fill);
    expect(e.ce.id).toBe("1");
    expect(e.verbatim).toBeUndefined();
  }
});

test("a payload that is not a CloudEvent is wrapped in one and never passed through", () => {
  const e = eventFromBroker(enc.encode('{"n":1}'), "application/json", fill);
  expect(e.ce.specversion).toBe("1.0");
  expect(e.ce.data).toEqual({ n: 1 });
  expect(e.verbatim).toBeUndefined();
});
