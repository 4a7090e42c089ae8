// The cryptography block: /v1.0-alpha1/crypto/* and EncryptAlpha1 / DecryptAlpha1 / Subtle*Alpha1.
import { daprService } from "../../api/grpc/dapr-service.js";
import { defineBlock } from "../../runtime/block.js";
import { CryptoBlock } from "./crypto-block.js";
import { cryptoHandlers } from "./grpc.js";
import { cryptoEndpoints } from "./http.js";
import { cryptoSlot } from "./slot.js";

export const cryptoManifest = defineBlock({
  name: "crypto",
  http: cryptoEndpoints,
  grpc: (api) => [daprService(cryptoHandlers(api), "crypto")],
  create(host) {
    host.provide(cryptoSlot, new CryptoBlock(host.registry));
    return { stop: async () => host.provide(cryptoSlot, undefined) };
  },
});
