// The input checks shared by the building blocks, as units: the JSON nesting limit, well-formed names, ttlInSeconds
// and JSON metadata objects.
import { describe, expect, test } from "bun:test";
import { JsonTooDeepError, MAX_JSON_DEPTH, parseJson } from "../../src/json.js";
import { checkWellFormed } from "../../src/unicode.js";
import { ttlInSeconds } from "../../src/blocks/ttl.js";
import { stringMetadata } from "../../src/api/http/respond.js";
import { DaprError, errors } from "../../src/errors.js";

const arrays = (n: number) => "[".repeat(n) + "]".repeat(n);
const objects = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);

describe("parseJson", () => {
  test("takes nesting up to the limit and refuses one level more, for arrays, objects and a mix", () => {
    expect(parseJson(arrays(MAX_JSON_DEPTH))).toBeArray();
    expect(() => parseJson(arrays(MAX_JSON_DEPTH + 1))).toThrow(JsonTooDeepError);
    expect(() => parseJson(objects(MAX_JSON_DEPTH + 1))).toThrow(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    expect(() => parseJson(`[${objects(MAX_JSON_DEPTH)}]`)).toThrow(JsonTooDeepError);
    expect(() => parseJson(arrays(300_000))).toThrow(JsonTooDeepError);
    expect(parseJson(arrays(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH + 1)).toBeArray();
  });

  test("brackets inside strings do not count, escaped quotes and backslashes included", () => {
    const inString = JSON.stringify(["[".repeat(5000), '\\"[[[', "\\", `{${"[".repeat(2000)}`]);
    expect(parseJson(inString)).toEqual(JSON.parse(inString));
    const afterEscapes = JSON.stringify({ a: "x\\", b: '"', c: "\\\\\"" }) + " ".repeat(MAX_JSON_DEPTH);
    expect(parseJson(afterEscapes)).toEqual({ a: "x\\", b: '"', c: "\\\\\"" });
    // Depth counts again after a string closes.
    expect(() => parseJson(`["]]]]",${arrays(MAX_JSON_DEPTH)}]`)).toThrow(JsonTooDeepError);
  });

  test("a refused depth is a SyntaxError, as JSON.parse's own errors, and bad JSON stays JSON.parse's error", () => {
    expect(() => parseJson(arrays(MAX_JSON_DEPTH + 1))).toThrow(SyntaxError);
    expect(() => parseJson("{")).toThrow(SyntaxError);
    expect(() => parseJson('"' + "[".repeat(MAX_JSON_DEPTH + 5))).toThrow(SyntaxError); // an unclosed string
  });
});

describe("checkWellFormed", () => {
  test("a lone surrogate is refused; the pair it would be part of, and U+FFFD, are not", () => {
    for (const bad of ["sur\ud800", "\udc00", "a\ud800b", "\ud83d"]) expect(() => checkWellFormed(bad, "key")).toThrow(/not valid Unicode/);
    for (const good of ["sur\ufffd", "🔑", "\ud83d\udd11", "ключ", ""]) expect(checkWellFormed(good, "key")).toBe(good);
    expect(() => checkWellFormed("\ud800", "key", errors.pubsubEventsSer)).toThrow(expect.objectContaining({ errorCode: "ERR_PUBSUB_EVENTS_SER" }));
  });
});

describe("ttlInSeconds", () => {
  const ttl = (v: string, min = 0) => ttlInSeconds({ ttlInSeconds: v }, "where", { value: min });
  test("base-10 integers from the minimum to 2^31-1; anything else is ERR_MALFORMED_REQUEST naming the value", () => {
    expect(ttl("0")).toBe(0);
    expect(ttl("60")).toBe(60);
    expect(ttl("+7")).toBe(7);
    expect(ttl("-1", -1)).toBe(-1);
    expect(ttl(String(2 ** 31 - 1))).toBe(2 ** 31 - 1);
    expect(ttlInSeconds({}, "where", { value: 0 })).toBeUndefined();
    expect(ttl("")).toBeUndefined();
    for (const bad of ["abc", "1.5", "-1", "1e3", "0x10", " 5", "5 ", "Infinity", String(2 ** 31), "99999999999999"]) {
      let err: unknown;
      try {
        ttl(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DaprError);
      expect((err as DaprError).errorCode).toBe("ERR_MALFORMED_REQUEST");
      expect((err as DaprError).message).toContain(`got ${JSON.stringify(bad)}`);
    }
  });
});

describe("stringMetadata", () => {
  test("an object of well-formed strings passes; other values are refused, not turned into text", () => {
    expect(stringMetadata({ a: "1", b: "" }, "w:")).toEqual({ a: "1", b: "" });
    expect(stringMetadata(undefined, "w:")).toBeUndefined();
    expect(stringMetadata(null, "w:")).toBeUndefined();
    expect(() => stringMetadata({ ttlInSeconds: { x: 1 } }, "w:")).toThrow('w: "metadata.ttlInSeconds" must be a string, got an object');
    expect(() => stringMetadata({ n: 5 }, "w:")).toThrow("got a number");
    expect(() => stringMetadata(["a"], "w:")).toThrow('w: "metadata" must be an object of strings, got an array');
    expect(() => stringMetadata({ "k\ud800": "v" }, "w:")).toThrow(/metadata name "k\\ud800" is not valid Unicode/);
    expect(() => stringMetadata({ k: "v\udc00" }, "w:", errors.pubsubEventsSer)).toThrow(expect.objectContaining({ errorCode: "ERR_PUBSUB_EVENTS_SER" }));
  });
});
