// The official Dapr JS SDK pointed at a test sidecar: a client, or an app server, over HTTP or gRPC, logging only errors.
import { CommunicationProtocolEnum, DaprClient, DaprServer, LogLevel } from "@dapr/dapr";
import type { Sidecar } from "./sidecar.js";

const silent = { error() {}, warn() {}, info() {}, verbose() {}, debug() {} };
export const quietSdkLogger = { level: LogLevel.Error, service: silent };

const portOf = (sc: Sidecar, protocol: CommunicationProtocolEnum) => String(protocol === CommunicationProtocolEnum.GRPC ? sc.grpcPort : sc.httpPort);

export function sdkClient(sc: Sidecar, protocol: CommunicationProtocolEnum): DaprClient {
  return new DaprClient({ daprHost: "127.0.0.1", daprPort: portOf(sc, protocol), communicationProtocol: protocol, logger: quietSdkLogger });
}

/** An app served by the SDK on `appPort`, calling back into `sc` over the same protocol. */
export function sdkServer(sc: Sidecar, appPort: number, protocol: CommunicationProtocolEnum): DaprServer {
  return new DaprServer({
    serverHost: "127.0.0.1",
    serverPort: String(appPort),
    communicationProtocol: protocol,
    clientOptions: { daprHost: "127.0.0.1", daprPort: portOf(sc, protocol), communicationProtocol: protocol },
    logger: quietSdkLogger,
  });
}

/** The HTTP client reports save/delete failures as {error}; the gRPC client throws. Either way: the error text. */
export async function failureOf(call: () => Promise<unknown>): Promise<string | undefined> {
  try {
    const r = (await call()) as { error?: unknown } | undefined;
    return r && typeof r === "object" && r.error ? String(r.error) : undefined;
  } catch (err) {
    return String(err);
  }
}
