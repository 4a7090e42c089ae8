// The conversation block: /v1.0-alpha1|alpha2/conversation/{name}/converse, ConverseAlpha1 / ConverseAlpha2 over the
// conversation components (LLMs).
import { conversationEndpoints } from "../../api/http/routes/conversation.js";
import { conversationHandlers } from "../../api/grpc/handlers/conversation.js";
import { daprService } from "../../api/grpc/dapr-service.js";
import { defineBlock } from "../../runtime/block.js";
import { ConversationBlock, conversationSlot } from "./conversation-block.js";

export const conversationManifest = defineBlock({
  name: "conversation",
  http: conversationEndpoints,
  grpc: (api) => [daprService(conversationHandlers(api), "conversation")],
  create(host) {
    host.provide(conversationSlot, new ConversationBlock(host.registry, host.resiliency));
    return { stop: async () => host.provide(conversationSlot, undefined) };
  },
});
