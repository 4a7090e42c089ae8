// The ActorForwarder over the sidecar transport (PeerLink, kind "actor"), and its receiving end, which hands the call
// to this sidecar's ActorsBlock.receive. The call travels as JSON in a header, the invoke body as the body; errors
// come back as daprd's JSON with the DaprError's code, HTTP status and gRPC code.
import type { Code } from "@connectrpc/connect";
import { DaprError, errors, messageOf } from "../../errors.js";
import type { PeerLink } from "../invoke/peer-link.js";
import { TransportError, type TransportRequest, type TransportResponse } from "../../transport/transport.js";
import { OwnerUnreachableError, type ActorForwarder, type ActorInvokeResponse, type ForwardedCall } from "./forwarder.js";
import type { Location } from "./placement/types.js";

export const ACTOR_REQUEST_KIND = "actor";
const CALL_HEADER = "rapr-actor-call";
const ERROR_HEADER = "rapr-actor-error";
const GRPC_CODE_HEADER = "rapr-actor-grpc-code";
const NO_RESPONSE_HEADER = "rapr-actor-no-response";
const EMPTY = new Uint8Array(0);

export function peerForwarder(link: () => PeerLink | undefined, onUnreachable: () => void): ActorForwarder {
  return {
    async forward(location: Location, call: ForwardedCall, signal?: AbortSignal) {
      const peer = link();
      if (!peer) throw errors.directInvoke("the sidecar transport is not ready: cannot forward an actor call");
      const body = call.kind === "invoke" ? call.request.body : EMPTY;
      const header = call.kind === "invoke" ? { ...call, request: { ...call.request, body: undefined } } : call;
      const req: TransportRequest = { kind: ACTOR_REQUEST_KIND, path: call.kind, headers: { [CALL_HEADER]: JSON.stringify(header) }, body };
      let res: TransportResponse;
      try {
        res = await peer.request(location.address, req, signal);
      } catch (err) {
        const message = `failed to forward the actor call to ${location.host}: ${messageOf(err)}`;
        if (!(err instanceof TransportError) || err.code !== "unreachable") throw errors.directInvoke(message);
        onUnreachable();
        throw new OwnerUnreachableError(location.host, message);
      }
      const code = res.headers[ERROR_HEADER] ?? res.headers["rapr-error"];
      if (code) {
        const parsed = parseJson(new TextDecoder().decode(res.body)) as { message?: string } | undefined;
        throw new DaprError(code, parsed?.message ?? `actor call failed on ${location.host}`, res.status, Number(res.headers[GRPC_CODE_HEADER] ?? 13) as Code);
      }
      if (res.headers[NO_RESPONSE_HEADER]) return undefined;
      return { status: res.status, headers: res.headers, body: res.body };
    },
  };
}

/** The receiving end: a forwarded call in, `receive`'s answer (or its DaprError) out. */
export function servePeerActorCall(receive: (call: ForwardedCall) => Promise<ActorInvokeResponse | undefined>) {
  return async (req: TransportRequest): Promise<TransportResponse> => {
    try {
      const call = parseJson(req.headers[CALL_HEADER] ?? "") as ForwardedCall | undefined;
      if (!call || (call.kind !== "invoke" && call.kind !== "registerReminder") || typeof call.hops !== "number" || typeof call.request !== "object") {
        throw errors.malformedRequest("malformed forwarded actor call");
      }
      if (call.kind === "invoke") call.request.body = req.body;
      const res = await receive(call);
      return res ?? { status: 204, headers: { [NO_RESPONSE_HEADER]: "1" }, body: EMPTY };
    } catch (err) {
      const e = err instanceof DaprError ? err : errors.directInvoke(messageOf(err));
      return { status: e.httpStatus, headers: { "content-type": "application/json", [ERROR_HEADER]: e.errorCode, [GRPC_CODE_HEADER]: String(e.grpcCode) }, body: new TextEncoder().encode(JSON.stringify(e)) };
    }
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
