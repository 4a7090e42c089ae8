// conversation.echo: Dapr's test component; it answers with the content of the last message it was sent.
import type { ConversationComponent, ConverseRequest, ConverseResult } from "../../src/components/contracts/conversation.js";
import { definePlugin } from "../../src/components/plugin.js";

class EchoConversation implements ConversationComponent {
  async converse(req: ConverseRequest): Promise<ConverseResult> {
    return { choices: [{ content: req.messages.at(-1)?.content ?? "", finishReason: "stop" }] };
  }

  async close() {}
}

export default definePlugin({
  type: "conversation.echo",
  versions: ["v1"],
  metadata: {},
  async create() {
    return new EchoConversation();
  },
});
