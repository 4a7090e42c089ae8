// The NATS connection rapr's pubsub.nats uses: writes gathered per event-loop turn must keep their order and
// must not be lost when the connection drains with some still queued (close() drops unsent data, as stock does).
import { expect, test } from "bun:test";
import { connect } from "@nats-io/transport-node";
import { connectCoalesced } from "../../plugins/pubsub.nats/connect.js";
import { missing, NATS_URL } from "../support/backends.js";
import { uniq } from "./harness.js";

const natsTest = test.skipIf(await missing("nats"));

/** A plain subscriber on its own connection; done() waits (up to 10 s) for n messages. */
async function collect(subject: string, n: number) {
  const nc = await connect({ servers: NATS_URL });
  const got: string[] = [];
  nc.subscribe(subject, { callback: (_err, m) => void got.push(m.string()) });
  await nc.flush();
  return {
    got,
    async done() {
      for (const until = Date.now() + 10_000; got.length < n && Date.now() < until; ) await Bun.sleep(10);
      await nc.close();
    },
  };
}

natsTest("publishes from many event-loop turns and from one turn arrive complete and in order", async () => {
  const subject = `rapr-coalesce-${uniq()}`;
  const sink = await collect(subject, 600);
  const nc = await connectCoalesced({ servers: NATS_URL });
  for (let i = 0; i < 300; i++) {
    nc.publish(subject, `a${i}`);
    if (i % 3 === 0) await new Promise((r) => setImmediate(r));
  }
  for (let i = 0; i < 300; i++) nc.publish(subject, `b${i}`);
  await nc.flush();
  await sink.done();
  await nc.close();
  expect(sink.got).toEqual([...Array.from({ length: 300 }, (_, i) => `a${i}`), ...Array.from({ length: 300 }, (_, i) => `b${i}`)]);
});

natsTest("messages still queued when the connection is drained are sent before it closes", async () => {
  const subject = `rapr-coalesce-drain-${uniq()}`;
  const sink = await collect(subject, 50);
  const nc = await connectCoalesced({ servers: NATS_URL });
  for (let i = 0; i < 50; i++) nc.publish(subject, `m${i}`);
  await nc.drain();
  await sink.done();
  expect(sink.got.length).toBe(50);
});
