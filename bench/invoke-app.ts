// The callee of bench/invoke.ts: answers every request with its body (1 KB in the benchmark).
Bun.serve({
  port: Number(process.env.APP_PORT),
  hostname: "127.0.0.1",
  async fetch(req) {
    if (req.method === "GET") return new Response("ok");
    return new Response(await req.arrayBuffer(), { headers: { "content-type": "application/octet-stream" } });
  },
});
