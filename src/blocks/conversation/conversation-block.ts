// The conversation building block: ConverseAlpha1 / ConverseAlpha2 over the conversation components, with daprd's
// checks and errors, PII scrubbing of inputs and outputs when asked, and the component's outbound resiliency policy.
import type { ConversationComponent, ConversationMessage, ConversationRole, ConverseRequest, ConverseResult } from "../../components/contracts/conversation.js";
import type { ComponentRegistry } from "../../components/registry.js";
import type { Resiliency } from "../../resiliency/index.js";
import { Slot } from "../../runtime/block.js";
import { errors, messageOf } from "../../errors.js";
import { scrubPII } from "./pii.js";

/** ConverseAlpha1's request and answer, by the fields of Dapr's ConversationRequest / ConversationResponse. */
export interface Alpha1Request {
  name: string;
  contextID?: string;
  inputs: { content: string; role?: string; scrubPII?: boolean }[];
  metadata: Record<string, string>;
  scrubPII?: boolean;
  temperature?: number;
}

export interface Alpha1Response {
  contextID?: string;
  outputs: { result: string }[];
}

type MessageCase = "ofDeveloper" | "ofSystem" | "ofUser" | "ofAssistant" | "ofTool";

/** One of Dapr's ConversationMessage kinds: a role, its text parts, and the tool call a tool message answers. */
export interface Alpha2Message {
  messageTypes: { case: MessageCase; value: { name?: string; content: { text: string }[]; toolId?: string } } | { case: undefined; value?: undefined };
}

/** ConverseAlpha2's request and answer, by the fields of Dapr's ConversationRequestAlpha2 / ResponseAlpha2. */
export interface Alpha2Request {
  name: string;
  contextId?: string;
  inputs: { messages: Alpha2Message[]; scrubPii?: boolean }[];
  metadata: Record<string, string>;
  scrubPii?: boolean;
  temperature?: number;
  promptCacheRetention?: { seconds: bigint; nanos: number };
}

export interface Alpha2Response {
  contextId?: string;
  outputs: {
    choices: { finishReason: string; index: bigint; message: { content: string } }[];
    model?: string;
    usage?: { promptTokens: bigint; completionTokens: bigint; totalTokens: bigint };
  }[];
}

export class ConversationBlock {
  constructor(private readonly registry: ComponentRegistry, private readonly resiliency: Resiliency) {}

  async converseAlpha1(req: Alpha1Request): Promise<Alpha1Response> {
    const component = this.component(req.name);
    if (req.inputs.length === 0) throw errors.conversationMissingInputs("missing inputs in request");
    const messages = req.inputs.map((i) => ({
      role: roleOf(i.role),
      content: req.scrubPII || i.scrubPII ? scrubPII(i.content) : i.content,
    }));
    const result = await this.converse(req.name, component, { messages, temperature: req.temperature, metadata: req.metadata });
    const outputs = result.choices.map((c) => ({ result: req.scrubPII ? scrubPII(c.content) : c.content }));
    return { contextID: req.contextID, outputs };
  }

  async converseAlpha2(req: Alpha2Request): Promise<Alpha2Response> {
    const component = this.component(req.name);
    if (req.inputs.length === 0) throw errors.conversationMissingInputs("missing inputs in request");
    const messages = req.inputs.flatMap((i) => i.messages.map((m) => toContractMessage(m, req.scrubPii || i.scrubPii)));
    const retention = req.promptCacheRetention;
    const result = await this.converse(req.name, component, {
      messages,
      temperature: req.temperature,
      metadata: req.metadata,
      ...(retention ? { promptCacheRetentionSeconds: Number(retention.seconds) + retention.nanos / 1e9 } : {}),
    });
    const choices = result.choices.map((c, index) => ({
      finishReason: c.finishReason,
      index: BigInt(index),
      message: { content: req.scrubPii ? scrubPII(c.content) : c.content },
    }));
    const u = result.usage;
    const usage = u && { promptTokens: BigInt(u.promptTokens), completionTokens: BigInt(u.completionTokens), totalTokens: BigInt(u.totalTokens) };
    return { contextId: req.contextId, outputs: [{ choices, model: result.model, usage }] };
  }

  private component(name: string): ConversationComponent {
    const component = name ? this.registry.get<ConversationComponent>("conversation", name) : undefined;
    if (!component) throw errors.conversationNotFound(`failed finding conversation component ${name}`);
    return component;
  }

  private async converse(name: string, component: ConversationComponent, req: ConverseRequest): Promise<ConverseResult> {
    const target = { component: name };
    try {
      return await this.resiliency.run(target, (signal) => component.converse(req, signal));
    } catch (err) {
      throw errors.conversationInvoke(`failed invoking conversation component ${name}: ${messageOf(err)}`);
    }
  }
}

const ROLES: readonly ConversationRole[] = ["system", "developer", "user", "assistant", "tool"];

/** Alpha1's free-text role; anything Dapr does not name is the user speaking. */
function roleOf(role: string | undefined): ConversationRole {
  const r = (role ?? "").toLowerCase() as ConversationRole;
  return ROLES.includes(r) ? r : "user";
}

const ROLE_OF_CASE: Record<MessageCase, ConversationRole> = {
  ofDeveloper: "developer",
  ofSystem: "system",
  ofUser: "user",
  ofAssistant: "assistant",
  ofTool: "tool",
};

function toContractMessage(m: Alpha2Message, scrub: boolean | undefined): ConversationMessage {
  const t = m.messageTypes;
  if (!t.case) throw errors.malformedRequest("a conversation message has none of ofDeveloper, ofSystem, ofUser, ofAssistant, ofTool");
  const text = t.value.content.map((c) => c.text).join("\n");
  const toolCallId = t.case === "ofTool" ? t.value.toolId : undefined;
  return {
    role: ROLE_OF_CASE[t.case],
    content: scrub ? scrubPII(text) : text,
    ...(t.value.name ? { name: t.value.name } : {}),
    ...(toolCallId ? { toolCallId } : {}),
  };
}

/** The running conversation block, for the API fronts. */
export const conversationSlot = new Slot<ConversationBlock>("conversation");
