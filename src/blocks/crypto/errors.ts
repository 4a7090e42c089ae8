// The crypto block's errors, as daprd's pkg/messages defines them.
import { Code } from "@connectrpc/connect";
import { DaprError } from "../../errors.js";

const make = (code: string, http: number, grpc: Code) => (message: string) => new DaprError(code, message, http, grpc);

export const cryptoErrors = {
  providersNotConfigured: make("ERR_CRYPTO_PROVIDERS_NOT_CONFIGURED", 500, Code.Internal),
  providerNotFound: make("ERR_CRYPTO_PROVIDER_NOT_FOUND", 400, Code.InvalidArgument),
  /** GetKey failed. */
  key: make("ERR_CRYPTO_KEY", 500, Code.Internal),
  /** Every other failed operation. */
  operation: make("ERR_CRYPTO", 500, Code.Internal),
  /** A missing component name, header or option. */
  badRequest: make("ERR_BAD_REQUEST", 400, Code.InvalidArgument),
};
