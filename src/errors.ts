// Dapr's error model: an errorCode, an HTTP status and a gRPC status for every failure the API can report.
import { Code } from "@connectrpc/connect";

export class DaprError extends Error {
  constructor(
    readonly errorCode: string,
    message: string,
    readonly httpStatus: number,
    readonly grpcCode: Code,
  ) {
    super(message);
    this.name = "DaprError";
  }

  toJSON() {
    return { errorCode: this.errorCode, message: this.message };
  }
}

const make = (code: string, http: number, grpc: Code) => (message: string) => new DaprError(code, message, http, grpc);

export const errors = {
  malformedRequest: make("ERR_MALFORMED_REQUEST", 400, Code.InvalidArgument),
  malformedRequestData: make("ERR_MALFORMED_REQUEST_DATA", 400, Code.InvalidArgument),
  bodyTooLarge: make("ERR_BODY_TOO_LARGE", 413, Code.ResourceExhausted),
  notFound: make("ERR_NOT_FOUND", 404, Code.NotFound),
  apiUnauthorized: make("ERR_API_UNAUTHORIZED", 401, Code.Unauthenticated),
  metadataGet: make("ERR_METADATA_GET", 500, Code.Internal),
  directInvoke: make("ERR_DIRECT_INVOKE", 500, Code.Internal),
  /** An invocation that ran out of its resiliency timeout before it could even start. */
  directInvokeTimeout: make("ERR_DIRECT_INVOKE", 504, Code.DeadlineExceeded),
  permissionDenied: make("ERR_PERMISSION_DENIED", 403, Code.PermissionDenied),

  stateStoreNotConfigured: make("ERR_STATE_STORE_NOT_CONFIGURED", 500, Code.FailedPrecondition),
  stateStoreNotFound: make("ERR_STATE_STORE_NOT_FOUND", 404, Code.InvalidArgument),
  stateGet: make("ERR_STATE_GET", 500, Code.Internal),
  stateSave: make("ERR_STATE_SAVE", 500, Code.Internal),
  stateDelete: make("ERR_STATE_DELETE", 500, Code.Internal),
  stateBulkGet: make("ERR_STATE_BULK_GET", 500, Code.Internal),
  stateTransaction: make("ERR_STATE_TRANSACTION", 500, Code.Internal),
  stateQuery: make("ERR_STATE_QUERY", 500, Code.Internal),
  stateQueryNotSupported: make("ERR_STATE_STORE_NOT_SUPPORTED", 500, Code.Internal),
  transactionNotSupported: make("ERR_STATE_STORE_NOT_SUPPORTED", 500, Code.Unimplemented),
  secretStoresNotConfigured: make("ERR_SECRET_STORES_NOT_CONFIGURED", 500, Code.FailedPrecondition),
  secretStoreNotFound: make("ERR_SECRET_STORE_NOT_FOUND", 401, Code.InvalidArgument),
  secretGet: make("ERR_SECRET_GET", 500, Code.Internal),
  cryptoProvidersNotConfigured: make("ERR_CRYPTO_PROVIDERS_NOT_CONFIGURED", 500, Code.Internal),
  cryptoProviderNotFound: make("ERR_CRYPTO_PROVIDER_NOT_FOUND", 400, Code.InvalidArgument),
  /** SubtleGetKeyAlpha1 failed. */
  cryptoKey: make("ERR_CRYPTO_KEY", 500, Code.Internal),
  /** Every other failed crypto operation. */
  crypto: make("ERR_CRYPTO", 500, Code.Internal),
  /** A missing component name, header or option (the crypto API's). */
  badRequest: make("ERR_BAD_REQUEST", 400, Code.InvalidArgument),
  lockStoreNotConfigured: make("ERR_LOCK_STORE_NOT_CONFIGURED", 500, Code.FailedPrecondition),
  lockStoreNotFound: make("ERR_LOCK_STORE_NOT_FOUND", 400, Code.InvalidArgument),
  tryLock: make("ERR_TRY_LOCK", 500, Code.Internal),
  unlock: make("ERR_UNLOCK", 500, Code.Internal),
  conversationNotFound: make("ERR_CONVERSATION_NOT_FOUND", 400, Code.InvalidArgument),
  conversationMissingInputs: make("ERR_CONVERSATION_MISSING_INPUTS", 400, Code.InvalidArgument),
  conversationInvoke: make("ERR_CONVERSATION_INVOKE", 500, Code.Internal),
  configurationStoreNotConfigured: make("ERR_CONFIGURATION_STORE_NOT_CONFIGURED", 500, Code.FailedPrecondition),
  configurationStoreNotFound: make("ERR_CONFIGURATION_STORE_NOT_FOUND", 400, Code.InvalidArgument),
  configurationGet: make("ERR_CONFIGURATION_GET", 500, Code.Internal),
  configurationSubscribe: make("ERR_CONFIGURATION_SUBSCRIBE", 500, Code.InvalidArgument),
  appChannelNil: make("ERR_APP_CHANNEL_NIL", 500, Code.Internal),
  pubsubNotFound: make("ERR_PUBSUB_NOT_FOUND", 404, Code.InvalidArgument),
  pubsubNotConfigured: make("ERR_PUBSUB_NOT_CONFIGURED", 400, Code.FailedPrecondition),
  pubsubEmpty: make("ERR_PUBSUB_EMPTY", 404, Code.InvalidArgument),
  pubsubTopicEmpty: make("ERR_TOPIC_NAME_EMPTY", 404, Code.InvalidArgument),
  pubsubPublish: make("ERR_PUBSUB_PUBLISH_MESSAGE", 500, Code.Internal),
  pubsubCloudEventsSer: make("ERR_PUBSUB_CLOUD_EVENTS_SER", 400, Code.InvalidArgument),
  pubsubEventsSer: make("ERR_PUBSUB_EVENTS_SER", 400, Code.InvalidArgument),
  pubsubForbidden: make("ERR_PUBSUB_FORBIDDEN", 403, Code.PermissionDenied),
  /** A topic's outside subscribers already hold as many (or as costly) distinct filters as one node evaluates per event. */
  pubsubFilterLimit: make("ERR_PUBSUB_FILTER_LIMIT", 429, Code.ResourceExhausted),
  /** Every failure of an output binding call (unknown binding, unsupported operation, the binding's own error), as Dapr. */
  invokeOutputBinding: (name: string, detail: string) =>
    new DaprError("ERR_INVOKE_OUTPUT_BINDING", `error invoking output binding ${name}: ${detail}`, 500, Code.Internal),
  etagMismatch: (op: "save" | "delete" | "transaction", message: string) =>
    new DaprError(etagCodes[op], message, 409, Code.Aborted),
  etagInvalid: (op: "save" | "delete" | "transaction", message: string) =>
    new DaprError(etagCodes[op], message, 400, Code.InvalidArgument),
};

const etagCodes = { save: "ERR_STATE_SAVE", delete: "ERR_STATE_DELETE", transaction: "ERR_STATE_TRANSACTION" };

/**
 * Errors a component raises for conditions the API reports specially. They match by name, so a --plugins-path plugin
 * (which cannot import the classes compiled into the binary) raises them as any Error named "EtagMismatchError" or
 * "EtagInvalidError".
 */
export class EtagMismatchError extends Error {
  constructor(readonly key: string) {
    super(`etag mismatch for key "${key}"`);
    this.name = "EtagMismatchError";
  }

  static [Symbol.hasInstance](err: unknown): boolean {
    return err instanceof Error && err.name === "EtagMismatchError";
  }
}

export class EtagInvalidError extends Error {
  constructor(readonly key: string, etag: string) {
    super(`invalid etag "${etag}" for key "${key}"`);
    this.name = "EtagInvalidError";
  }

  static [Symbol.hasInstance](err: unknown): boolean {
    return err instanceof Error && err.name === "EtagInvalidError";
  }
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
