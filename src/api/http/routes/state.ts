// HTTP: /v1.0/state/* and /v1.0-alpha1/state/{store}/query
import type { ApiContext } from "../../context.js";
import type { HttpEndpoint } from "../../../runtime/block.js";
import { CONTENT_TYPE, stateSlot, type StateBlock, type DeleteInput, type SaveInput, type TransactionInput } from "../../../blocks/state/state-block.js";
import { errors } from "../../../errors.js";
import { encoder, json, noContent, queryMetadata, readJson, stringMetadata, valueAsJson } from "../respond.js";

export function stateEndpoints(ctx: ApiContext): HttpEndpoint[] {
  const maxBody = ctx.config.maxRequestBodyBytes;
  const state = (): StateBlock => stateOf(ctx);
  const ep = (name: string, method: "GET" | "POST" | "DELETE", route: string, handler: HttpEndpoint["handler"], version: HttpEndpoint["version"] = "v1.0"): HttpEndpoint =>
    ({ name, methods: [method], route, version, group: "state", handler, rawBody: method === "POST" });
  return [
    ep("SaveState", "POST", "/state/:store", async ({ params: path, request }) => {
      const params = decodedPath(path);
      const body = await readJson(request, `state store ${params.store}`, maxBody);
      // As in Dapr, metadata.* query parameters apply to every item, over the item's own metadata.
      const urlMetadata = queryMetadata(new URL(request.url));
      const items = parseSaveList(body, params.store);
      if (Object.keys(urlMetadata).length) for (const item of items) item.metadata = { ...item.metadata, ...urlMetadata };
      await state().save(params.store, items);
      return noContent();
    }),
    ep("GetState", "GET", "/state/:store/:key", async ({ params: path, request }) => {
      const params = decodedPath(path);
      const url = new URL(request.url);
      const item = await state().get(params.store, params.key, url.searchParams.get("consistency") ?? undefined);
      if (!item) return noContent();
      // An item written before content types were checked (or by another writer) must still be readable.
      const contentType = item.contentType && CONTENT_TYPE.test(item.contentType) ? item.contentType : "application/json";
      const headers: Record<string, string> = { etag: item.etag, "content-type": contentType };
      for (const [k, v] of Object.entries(item.metadata)) headers[`metadata.${k}`] = v;
      return new Response(item.value as Uint8Array<ArrayBuffer>, { status: 200, headers });
    }),
    ep("DeleteState", "DELETE", "/state/:store/:key", async ({ params: path, request }) => {
      const params = decodedPath(path);
      const url = new URL(request.url);
      await state().delete(params.store, {
        key: params.key,
        etag: request.headers.get("if-match") ?? undefined,
        concurrency: url.searchParams.get("concurrency") ?? undefined,
        consistency: url.searchParams.get("consistency") ?? undefined,
        metadata: queryMetadata(url),
      });
      return noContent();
    }),
    ep("GetBulkState", "POST", "/state/:store/bulk", async ({ params: path, request }) => {
      const params = decodedPath(path);
      const body = (await readJson(request, `state store ${params.store}`, maxBody)) as { keys?: unknown };
      if (!body || typeof body !== "object" || !Array.isArray(body.keys)) {
        throw errors.malformedRequest(`state store ${params.store}: bulk get body must be {"keys": [...]}`);
      }
      const entries = await state().bulkGet(params.store, body.keys as string[]);
      return json(entries.map((e) => (e.found
        ? { key: e.key, data: valueAsJson(e.value!), etag: e.etag, metadata: e.metadata }
        : { key: e.key })));
    }),
    ep("ExecuteStateTransaction", "POST", "/state/:store/transaction", async ({ params: path, request }) => {
      const params = decodedPath(path);
      const body = (await readJson(request, `state store ${params.store}`, maxBody)) as { operations?: unknown };
      if (!body || typeof body !== "object" || !Array.isArray(body.operations)) {
        throw errors.malformedRequest(`state store ${params.store}: transaction body must be {"operations": [...]}`);
      }
      const ops = body.operations.map((o, i) => parseTransactionOp(o, i, params.store));
      await state().transaction(params.store, ops);
      return noContent();
    }),
    ep("QueryState", "POST", "/state/:store/query", async ({ params: path, request }) => {
      const params = decodedPath(path);
      const body = await readJson(request, `state store ${params.store}`, maxBody);
      const out = await state().query(params.store, body);
      return json({ results: out.results.map((r) => ({ key: r.key, data: valueAsJson(r.value), etag: r.etag })), token: out.token });
    }, "v1.0-alpha1"),
  ];
}

/** The state block, once its module has started (the servers listen only after that). */
export function stateOf(ctx: ApiContext): StateBlock {
  const block = ctx.blocks.get(stateSlot);
  if (!block) throw errors.stateStoreNotConfigured("the state block is not running");
  return block;
}

/** Elysia hands over null for a path segment that is not valid percent-encoded UTF-8; say so instead of "null". */
function decodedPath<P extends Record<string, string>>(params: P): P {
  for (const [name, value] of Object.entries(params)) {
    if (typeof value !== "string") throw errors.malformedRequest(`the ${name} in the URL is not valid percent-encoded UTF-8`);
  }
  return params;
}

function parseSaveList(body: unknown, store: string): SaveInput[] {
  if (!Array.isArray(body)) throw errors.malformedRequest(`state store ${store}: body must be a JSON array of {key, value}`);
  return body.map((item, i) => parseSaveItem(item, `state store ${store}: [${i}]`));
}

function parseSaveItem(item: unknown, where: string): SaveInput {
  if (!item || typeof item !== "object" || Array.isArray(item)) throw errors.malformedRequest(`${where} must be an object {key, value}`);
  const o = item as Record<string, any>;
  if (typeof o.key !== "string") throw errors.malformedRequest(`${where}.key must be a string`);
  if (!("value" in o)) throw errors.malformedRequest(`${where}.value is required (use null to store null)`);
  if (o.etag !== undefined && o.etag !== null && typeof o.etag !== "string") throw errors.malformedRequest(`${where}.etag must be a string`);
  const options = o.options ?? {};
  if (typeof options !== "object") throw errors.malformedRequest(`${where}.options must be an object`);
  return {
    key: o.key,
    value: encoder.encode(JSON.stringify(o.value ?? null)),
    etag: o.etag ?? undefined,
    concurrency: options.concurrency,
    consistency: options.consistency,
    metadata: stringMetadata(o.metadata, `${where}:`),
  };
}

function parseTransactionOp(o: unknown, i: number, store: string): TransactionInput {
  const where = `state store ${store}: operations[${i}]`;
  if (!o || typeof o !== "object") throw errors.malformedRequest(`${where} must be an object {operation, request}`);
  const { operation, request } = o as { operation?: unknown; request?: unknown };
  if (operation === "upsert") return { operation, ...parseSaveItem(request, `${where}.request`) };
  if (operation === "delete") {
    if (!request || typeof request !== "object") throw errors.malformedRequest(`${where}.request must be an object {key}`);
    const r = request as Record<string, any>;
    if (typeof r.key !== "string") throw errors.malformedRequest(`${where}.request.key must be a string`);
    if (r.etag !== undefined && r.etag !== null && typeof r.etag !== "string") throw errors.malformedRequest(`${where}.request.etag must be a string`);
    const del: DeleteInput = { key: r.key, etag: r.etag ?? undefined, concurrency: r.options?.concurrency, consistency: r.options?.consistency };
    return { operation, ...del };
  }
  const got = typeof operation === "string" ? JSON.stringify(operation) : typeof operation;
  throw errors.malformedRequest(`${where}.operation must be "upsert" or "delete", got ${got}`);
}
