// Drives save+get pairs through a sidecar's gRPC port with the official Dapr JS SDK on Node, the way most Dapr
// apps talk to their sidecar. Usage: node sdk-grpc-state.cjs <port> <clients> <seconds> [grpc|http]; prints pairs/s
// (the port is the sidecar's gRPC port, or its HTTP port with "http").
const { DaprClient, CommunicationProtocolEnum, LogLevel } = require("@dapr/dapr");

const [port, clients, seconds] = process.argv.slice(2, 5).map(Number);
const protocol = process.argv[5] === "http" ? CommunicationProtocolEnum.HTTP : CommunicationProtocolEnum.GRPC;
const client = new DaprClient({
  daprHost: "127.0.0.1",
  daprPort: String(port),
  communicationProtocol: protocol,
  logger: { level: LogLevel.Error },
});
const payload = "x".repeat(64);

(async () => {
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  let pairs = 0;
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; performance.now() < deadline; i++) {
      const key = `k${c}-${i % 100}`;
      await client.state.save("statestore", [{ key, value: JSON.stringify({ client: c, i, payload }) }]);
      if (!(await client.state.get("statestore", key))) throw new Error(`get ${key}: empty`);
      pairs++;
    }
  }));
  process.stdout.write(`${pairs / ((performance.now() - started) / 1000)}\n`);
  await client.stop();
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
