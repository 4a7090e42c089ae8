// The conversation contract (Dapr's conversation.Conversation): a chat completion over an LLM. The block turns the
// Alpha1 inputs and Alpha2 messages into this request, scrubs PII when asked, and maps the result back.
import type { Component } from "../plugin.js";

export type ConversationRole = "system" | "developer" | "user" | "assistant" | "tool";

export interface ConversationMessage {
  role: ConversationRole;
  content: string;
  name?: string;
  /** The tool call a "tool" message answers. */
  toolCallId?: string;
}

export interface ConverseRequest {
  messages: ConversationMessage[];
  temperature?: number;
  metadata: Record<string, string>;
  /** Alpha2's promptCacheRetention, in seconds, for providers that cache prompts. */
  promptCacheRetentionSeconds?: number;
}

export interface ConverseChoice {
  content: string;
  finishReason: string;
}

export interface ConverseUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface ConverseResult {
  choices: ConverseChoice[];
  model?: string;
  usage?: ConverseUsage;
}

export interface ConversationComponent extends Component {
  /** `signal` aborts the call when the resiliency policy's timeout passes. */
  converse(req: ConverseRequest, signal?: AbortSignal): Promise<ConverseResult>;
}
