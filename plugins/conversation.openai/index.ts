// conversation.openai: Dapr's OpenAI component over the Chat Completions API. `endpoint` is the API's base URL, so
// any server speaking that API (Ollama's /v1, vLLM, LM Studio, Azure-style gateways) is reached the same way.
import type { ConversationComponent, ConverseRequest, ConverseResult } from "../../src/components/contracts/conversation.js";
import { field } from "../../src/components/metadata-schema.js";
import { definePlugin } from "../../src/components/plugin.js";

const metadata = {
  key: field.string({ default: "" }),
  model: field.string({ default: "gpt-4o-mini" }),
  endpoint: field.string({ default: "https://api.openai.com/v1" }),
  /** Dapr's response cache lifetime; accepted, answers are not cached here. */
  cacheTTL: field.duration({ default: 0 }),
};

interface ChatCompletion {
  model?: string;
  choices?: { message?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number };
}

class OpenAIConversation implements ConversationComponent {
  constructor(private readonly url: string, private readonly key: string, private readonly model: string) {}

  async converse(req: ConverseRequest, signal?: AbortSignal): Promise<ConverseResult> {
    const body = {
      model: this.model,
      messages: req.messages.map((m) => ({
        role: m.role,
        content: m.content,
        ...(m.name ? { name: m.name } : {}),
        ...(m.toolCallId ? { tool_call_id: m.toolCallId } : {}),
      })),
      ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    };
    const res = await fetch(this.url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(this.key ? { authorization: `Bearer ${this.key}` } : {}) },
      body: JSON.stringify(body),
      signal,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`the provider answered ${res.status}: ${providerMessage(text)}`);
    let completion: ChatCompletion;
    try {
      completion = JSON.parse(text) as ChatCompletion;
    } catch {
      throw new Error(`the provider's answer is not JSON: ${text.slice(0, 200)}`);
    }
    const u = completion.usage;
    return {
      model: completion.model,
      choices: (completion.choices ?? []).map((c) => ({ content: c.message?.content ?? "", finishReason: c.finish_reason ?? "" })),
      ...(u ? { usage: { promptTokens: u.prompt_tokens ?? 0, completionTokens: u.completion_tokens ?? 0, totalTokens: u.total_tokens ?? 0 } } : {}),
    };
  }

  async close() {}
}

/** OpenAI's {"error":{"message"}} when present, else the start of the body. */
function providerMessage(text: string): string {
  try {
    const msg = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof msg === "string") return msg;
  } catch {
    // not JSON
  }
  return text.slice(0, 200);
}

export default definePlugin({
  type: "conversation.openai",
  versions: ["v1"],
  metadata,
  async create(md) {
    return new OpenAIConversation(`${md.endpoint.replace(/\/+$/, "")}/chat/completions`, md.key, md.model);
  },
});
