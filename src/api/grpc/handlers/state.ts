// gRPC: the state operations of dapr.proto.runtime.v1.Dapr.
import type { ServiceImpl } from "@connectrpc/connect";
import type { Dapr } from "../../../gen/dapr/proto/runtime/v1/dapr_pb.js";
import type { StateItem as PbStateItem, StateOptions } from "../../../gen/dapr/proto/common/v1/common_pb.js";
import type { ApiContext } from "../../context.js";
import { stateOf } from "../../http/routes/state.js";
import type { SaveInput } from "../../../blocks/state/state-block.js";
import { errors } from "../../../errors.js";
import { parseJson } from "../../../json.js";

const concurrency = ["", "first-write", "last-write"];
const consistency = ["", "eventual", "strong"];

/** An enum number the proto does not define comes through as its digits, so the block rejects it by value. */
const enumName = (names: string[], n: number | undefined) => names[n ?? 0] ?? String(n);

function options(o: StateOptions | undefined) {
  return { concurrency: enumName(concurrency, o?.concurrency), consistency: enumName(consistency, o?.consistency) };
}

function toSave(s: PbStateItem): SaveInput {
  return { key: s.key, value: s.value, etag: s.etag?.value, metadata: s.metadata, ...options(s.options) };
}

export function stateHandlers(ctx: ApiContext): Partial<ServiceImpl<typeof Dapr>> {
  return {
    async getState(req) {
      const item = await stateOf(ctx).get(req.storeName, req.key, enumName(consistency, req.consistency));
      return item ? { data: item.value, etag: item.etag, metadata: item.metadata } : {};
    },
    async getBulkState(req) {
      const entries = await stateOf(ctx).bulkGet(req.storeName, req.keys);
      return {
        items: entries.map((e) => ({ key: e.key, data: e.value ?? new Uint8Array(), etag: e.etag ?? "", metadata: e.metadata })),
      };
    },
    async saveState(req) {
      await stateOf(ctx).save(req.storeName, req.states.map(toSave));
      return {};
    },
    async deleteState(req) {
      await stateOf(ctx).delete(req.storeName, { key: req.key, etag: req.etag?.value, metadata: req.metadata, ...options(req.options) });
      return {};
    },
    async deleteBulkState(req) {
      await stateOf(ctx).bulkDelete(req.storeName, req.states.map((s) => ({ key: s.key, etag: s.etag?.value, ...options(s.options) })));
      return {};
    },
    async executeStateTransaction(req) {
      const ops = req.operations.map((o, i) => {
        if (!o.request) throw errors.malformedRequest(`state store ${req.storeName}: operations[${i}].request is required`);
        const s = toSave(o.request);
        if (o.operationType === "upsert" || o.operationType === "delete") return { operation: o.operationType, ...s } as const;
        throw errors.malformedRequest(`state store ${req.storeName}: operations[${i}].operationType must be "upsert" or "delete", got "${o.operationType}"`);
      });
      await stateOf(ctx).transaction(req.storeName, ops);
      return {};
    },
    async queryStateAlpha1(req) {
      let body: unknown;
      try {
        body = parseJson(req.query);
      } catch (err) {
        throw errors.malformedRequest(`state store ${req.storeName}: query is not valid JSON: ${(err as Error).message}`);
      }
      const out = await stateOf(ctx).query(req.storeName, body);
      return {
        results: out.results.map((r) => ({ key: r.key, data: r.value, etag: r.etag })),
        token: out.token ?? "",
      };
    },
  };
}

