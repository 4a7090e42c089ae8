// The error a gRPC call through a Connect client fails with, for tests that expect a failure.
import { ConnectError } from "@connectrpc/connect";

/** Runs `call` and returns its error as a ConnectError; throws when the call succeeds. */
export async function grpcError(call: () => Promise<unknown>): Promise<ConnectError> {
  try {
    await call();
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}
