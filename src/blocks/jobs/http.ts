// HTTP: /v1.0-alpha1/jobs/{name} POST (schedule, 204), GET (the job), DELETE (204); GET /v1.0-alpha1/jobs lists.
import type { ApiContext } from "../../api/context.js";
import type { HttpEndpoint, HttpMethod } from "../../runtime/block.js";
import { json, jsonType, noContent, readJson } from "../../api/http/respond.js";
import { parseGoDuration } from "../../scheduler/durations.js";
import type { FailurePolicy } from "../../scheduler/store.js";
import { jsonOfPayload } from "./job-data.js";
import { jobErrors, jobsSlot, type Job, type JobsBlock } from "./jobs-block.js";

export function jobsEndpoints(ctx: ApiContext): HttpEndpoint[] {
  const ep = (name: string, method: HttpMethod, route: string, handler: HttpEndpoint["handler"]): HttpEndpoint =>
    ({ name, methods: [method], route, version: "v1.0-alpha1", group: "jobs", handler, rawBody: true });
  return [
    ep("ScheduleJob", "POST", "/jobs/:name", async ({ params, request }) => {
      const body = await readJson(request, "ScheduleJob", Infinity, jobErrors.badInput);
      const { job, overwrite } = jobOfBody(params.name!, body);
      await jobsOf(ctx).schedule(job, overwrite);
      return noContent();
    }),
    ep("GetJob", "GET", "/jobs/:name", ({ params }) => json(jsonOfJob(jobsOf(ctx).get(params.name!)))),
    ep("DeleteJob", "DELETE", "/jobs/:name", async ({ params }) => {
      await jobsOf(ctx).delete(params.name!);
      return noContent();
    }),
    ep("ListJobs", "GET", "/jobs", () => json({ jobs: jobsOf(ctx).list().map(jsonOfJob) })),
  ];
}

export function jobsOf(ctx: ApiContext): JobsBlock {
  const block = ctx.blocks.get(jobsSlot);
  if (!block) throw jobErrors.notConfigured();
  return block;
}

/** A job in protojson: its payload as JSON. */
function jsonOfJob({ any, data, ...rest }: Job): unknown {
  return { ...rest, data: jsonOfPayload({ any, data }) };
}

/** daprd's JobHTTPRequest in protojson: the name only in the URL, fields under JSON or proto names. */
function jobOfBody(name: string, body: unknown): { job: Job; overwrite: boolean } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw jobErrors.badInput(`ScheduleJob: the body must be a JSON object, got ${jsonType(body)}`);
  const b = body as Record<string, unknown>;
  if (b.name !== undefined && b.name !== "") throw jobErrors.badInput("Set the job name in the url only");
  const text = (field: string, proto = field): string | undefined => {
    const v = b[field] ?? b[proto];
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v !== "string") throw jobErrors.badInput(`ScheduleJob: "${field}" must be a string, got ${jsonType(v)}`);
    return v;
  };
  const repeats = b.repeats;
  if (repeats !== undefined && repeats !== null && !(typeof repeats === "number" && Number.isSafeInteger(repeats) && repeats >= 0)) {
    throw jobErrors.badInput(`ScheduleJob: "repeats" must be a whole number, got ${JSON.stringify(repeats)}`);
  }
  const overwrite = b.overwrite ?? false;
  if (typeof overwrite !== "boolean") throw jobErrors.badInput(`ScheduleJob: "overwrite" must be a boolean, got ${jsonType(overwrite)}`);
  const job: Job = {
    name,
    schedule: text("schedule"),
    dueTime: text("dueTime", "due_time"),
    ttl: text("ttl"),
    repeats: repeats ? (repeats as number) : undefined,
    data: b.data ?? undefined,
    failurePolicy: failurePolicyOf(b.failurePolicy ?? b.failure_policy),
  };
  return { job, overwrite };
}

/** daprd's FailurePolicy: {"drop": {}} or {"constant": {"interval": "1s", "maxRetries": 3}}. */
function failurePolicyOf(v: unknown): FailurePolicy | undefined {
  if (v === undefined || v === null) return undefined;
  const p = v as Record<string, any>;
  if (typeof p !== "object" || Array.isArray(p)) throw jobErrors.badInput(`ScheduleJob: "failurePolicy" must be an object, got ${jsonType(v)}`);
  if (p.drop !== undefined) return { drop: true };
  if (p.constant !== undefined && typeof p.constant === "object" && p.constant !== null) {
    const interval = p.constant.interval ?? "0s";
    const intervalMs = typeof interval === "string" ? goDurationOrUndefined(interval) : undefined;
    if (intervalMs === undefined || intervalMs < 0) throw jobErrors.badInput(`ScheduleJob: "failurePolicy.constant.interval" must be a duration such as "1s", got ${JSON.stringify(interval)}`);
    const maxRetries = p.constant.maxRetries ?? p.constant.max_retries;
    if (maxRetries !== undefined && !(Number.isSafeInteger(maxRetries) && maxRetries >= 0)) {
      throw jobErrors.badInput(`ScheduleJob: "failurePolicy.constant.maxRetries" must be a whole number, got ${JSON.stringify(maxRetries)}`);
    }
    return { constant: { intervalMs, ...(maxRetries !== undefined ? { maxRetries } : {}) } };
  }
  throw jobErrors.badInput(`ScheduleJob: "failurePolicy" must hold "drop" or "constant"`);
}

function goDurationOrUndefined(text: string): number | undefined {
  try {
    return parseGoDuration(text, "failurePolicy.constant.interval");
  } catch {
    return undefined;
  }
}
