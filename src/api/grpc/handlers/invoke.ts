// gRPC: Dapr.InvokeService. An HTTP callee's non-2xx status becomes a gRPC error, as in Dapr.
import { create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { Dapr } from "../../../gen/dapr/proto/runtime/v1/dapr_pb.js";
import { HTTPExtension_Verb } from "../../../gen/dapr/proto/common/v1/common_pb.js";
import { ANY_TYPE_HEADER } from "../../../app/channel.js";
import { errors } from "../../../errors.js";
import type { ApiContext } from "../../context.js";

const FORWARDED = /^(traceparent|tracestate|grpc-trace-bin|x-.*)$/;

export function invokeHandlers(ctx: ApiContext): Partial<ServiceImpl<typeof Dapr>> {
  return {
    async invokeService(req, call) {
      if (!ctx.invoke) throw errors.directInvoke("service invocation is not available in this sidecar");
      const m = req.message;
      if (!m) throw errors.malformedRequest("InvokeService: message is required");
      const verb = m.httpExtension && m.httpExtension.verb !== HTTPExtension_Verb.NONE ? HTTPExtension_Verb[m.httpExtension.verb] : "POST";
      const headers: Record<string, string> = {};
      call.requestHeader.forEach((v, k) => {
        if (FORWARDED.test(k)) headers[k] = v;
      });
      if (m.contentType) headers["content-type"] = m.contentType;
      if (m.data?.typeUrl) headers[ANY_TYPE_HEADER] = m.data.typeUrl;
      const res = await ctx.invoke.invoke({
        appId: req.id,
        method: m.method.replace(/^\/+/, ""),
        verb,
        query: m.httpExtension?.querystring ?? "",
        headers,
        body: m.data?.value ?? new Uint8Array(),
      });
      if (res.status < 200 || res.status >= 300) {
        const text = new TextDecoder().decode(res.body);
        const grpc = Number(res.headers["grpc-status"]);
        throw new ConnectError(text || `status ${res.status}`, Number.isInteger(grpc) && grpc > 0 ? grpc : codeOfHttp(res.status), { "dapr-http-status": String(res.status) });
      }
      call.responseHeader.set("dapr-http-status", String(res.status));
      return {
        contentType: res.headers["content-type"] ?? "",
        data: create(AnySchema, { typeUrl: res.headers[ANY_TYPE_HEADER] ?? "", value: res.body }),
      };
    },
  };
}

function codeOfHttp(status: number): Code {
  switch (status) {
    case 400: return Code.InvalidArgument;
    case 401: return Code.Unauthenticated;
    case 403: return Code.PermissionDenied;
    case 404: return Code.NotFound;
    case 409: return Code.Aborted;
    case 413: case 429: return Code.ResourceExhausted;
    case 501: return Code.Unimplemented;
    case 503: return Code.Unavailable;
    case 504: return Code.DeadlineExceeded;
    default: return status >= 500 ? Code.Internal : Code.Unknown;
  }
}
