// CEL routing sees an event's data as published: a field named "__proto__" is a field like any other (it was
// silently dropped, and an object under it became the converted data's prototype), and names of Object.prototype's
// members are no fields of an event that does not have them.
import { expect, test } from "bun:test";
import type { CloudEvent } from "../../src/blocks/pubsub/cloudevents.js";
import { compileRouter } from "../../src/blocks/pubsub/routing.js";

const routeOf = (match: string, data: string): string | undefined => {
  const router = compileRouter({ pubsubName: "p", topic: "t", rules: [{ match, path: "/matched" }], defaultPath: "/default", metadata: {}, kind: "programmatic" }, () => {});
  return router.route({ id: "1", source: "s", type: "t", specversion: "1.0", datacontenttype: "application/json", data: JSON.parse(data) } as CloudEvent);
};

test.each([
  ["event.data['__proto__'] == 1", `{"__proto__":1}`],
  ["'__proto__' in event.data", `{"__proto__":{"a":1}}`],
  ["size(event.data) == 2", `{"__proto__":{"a":1},"b":2}`],
  ["event.data['__proto__'].a == 1", `{"__proto__":{"a":1}}`],
])("%s matches %s", (match, data) => {
  expect(routeOf(match, data)).toBe("/matched");
});

test.each([
  ["has(event.data.a)", `{"__proto__":{"a":1}}`],
  ["has(event.data.constructor)", `{}`],
  ["'toString' in event.data", `{}`],
])("%s does not match %s", (match, data) => {
  expect(routeOf(match, data)).toBe("/default");
});
