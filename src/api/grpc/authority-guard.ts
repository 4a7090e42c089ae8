// connect-node builds each request's URL from its Host header (HTTP/1.1) or :authority (HTTP/2) and throws, leaving
// the call unanswered, when that is missing or not a host. Such a request gets a 400 here instead.
import type * as http from "node:http";
import type * as http2 from "node:http2";

type NodeHandler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

export function requireAuthority(handler: NodeHandler): NodeHandler {
  return (req, res) => {
    const authority = "authority" in req ? req.authority : req.headers.host;
    if (authority && URL.canParse(`http://${authority}`)) return handler(req, res);
    const body = JSON.stringify({ code: "invalid_argument", message: "the request has no valid Host header (:authority)" });
    (res as http.ServerResponse).writeHead(400, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  };
}
