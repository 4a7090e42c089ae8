// HTTP: POST /v1.0-alpha1/conversation/{name}/converse and /v1.0-alpha2/…: daprd's universal handler, the gRPC
// request and response messages in protojson, the component name from the path.
import { create, createRegistry, fromJson, toJson, type DescMessage, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import { BoolValueSchema, DoubleValueSchema, Int64ValueSchema, StringValueSchema, StructSchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  ConversationRequestAlpha2Schema,
  ConversationRequestSchema,
  ConversationResponseAlpha2Schema,
  ConversationResponseSchema,
} from "../../../gen/dapr/proto/runtime/v1/ai_pb.js";
import type { ApiContext } from "../../context.js";
import type { HttpEndpoint } from "../../../runtime/block.js";
import { conversationSlot, type ConversationBlock } from "../../../blocks/conversation/conversation-block.js";
import { errors, messageOf } from "../../../errors.js";
import { json, readJson } from "../respond.js";

export function conversationEndpoints(ctx: ApiContext): HttpEndpoint[] {
  return [
    {
      name: "ConverseAlpha1",
      methods: ["POST"],
      route: "/conversation/:name/converse",
      version: "v1.0-alpha1",
      group: "conversation",
      rawBody: true,
      handler: async ({ params, request }) => {
        const req = await protoBody(request, ConversationRequestSchema, "ConverseAlpha1");
        req.name = params.name;
        return json(toJson(ConversationResponseSchema, create(ConversationResponseSchema, await conversationOf(ctx).converseAlpha1(req))));
      },
    },
    {
      name: "ConverseAlpha2",
      methods: ["POST"],
      route: "/conversation/:name/converse",
      version: "v1.0-alpha2",
      group: "conversation",
      rawBody: true,
      handler: async ({ params, request }) => {
        const req = await protoBody(request, ConversationRequestAlpha2Schema, "ConverseAlpha2");
        req.name = params.name;
        return json(toJson(ConversationResponseAlpha2Schema, create(ConversationResponseAlpha2Schema, await conversationOf(ctx).converseAlpha2(req))));
      },
    },
  ];
}

export function conversationOf(ctx: ApiContext): ConversationBlock {
  const block = ctx.blocks.get(conversationSlot);
  if (!block) throw errors.conversationNotFound("failed finding conversation component: the conversation block is not running");
  return block;
}

/** The types an Any in `parameters` may hold. */
const anyTypes = createRegistry(StringValueSchema, BoolValueSchema, Int64ValueSchema, DoubleValueSchema, StructSchema, ValueSchema);

/** The body as protojson of `schema`, unknown fields ignored as daprd reads it. */
async function protoBody<D extends DescMessage>(request: Request, schema: D, what: string): Promise<MessageShape<D>> {
  const body = await readJson(request, what);
  try {
    return fromJson(schema, body as JsonValue, { ignoreUnknownFields: true, registry: anyTypes });
  } catch (err) {
    throw errors.malformedRequest(`${what}: ${messageOf(err)}`);
  }
}
