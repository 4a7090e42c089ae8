// gRPC: ScheduleJobAlpha1, GetJobAlpha1, DeleteJobAlpha1, ListJobsAlpha1, DeleteJobsByPrefixAlpha1.
import type { ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import type { Dapr } from "../../gen/dapr/proto/runtime/v1/dapr_pb.js";
import { JobSchema, type Job as JobMessage } from "../../gen/dapr/proto/runtime/v1/jobs_pb.js";
import { JobFailurePolicySchema, type JobFailurePolicy } from "../../gen/dapr/proto/common/v1/common_pb.js";
import type { ApiContext } from "../../api/context.js";
import type { FailurePolicy } from "../../scheduler/store.js";
import { jobsOf } from "./http.js";
import { jobErrors, type Job } from "./jobs-block.js";
import { anyOfPayload, payloadOfAny } from "./job-data.js";

export function jobsHandlers(ctx: ApiContext): Partial<ServiceImpl<typeof Dapr>> {
  return {
    async scheduleJobAlpha1(req) {
      if (!req.job) throw jobErrors.badInput("ScheduleJob: the request has no job");
      await jobsOf(ctx).schedule(jobOfMessage(req.job), req.overwrite);
      return {};
    },
    async getJobAlpha1(req) {
      return { job: messageOfJob(jobsOf(ctx).get(req.name)) };
    },
    async deleteJobAlpha1(req) {
      await jobsOf(ctx).delete(req.name);
      return {};
    },
    async listJobsAlpha1() {
      return { jobs: jobsOf(ctx).list().map(messageOfJob) };
    },
    async deleteJobsByPrefixAlpha1(req) {
      await jobsOf(ctx).deleteByPrefix(req.namePrefix ?? "");
      return {};
    },
  };
}

function jobOfMessage(m: JobMessage): Job {
  return {
    name: m.name,
    schedule: m.schedule || undefined,
    dueTime: m.dueTime || undefined,
    ttl: m.ttl || undefined,
    repeats: m.repeats || undefined,
    ...payloadOfAny(m.data),
    failurePolicy: policyOfMessage(m.failurePolicy),
  };
}

function messageOfJob(job: Job): JobMessage {
  return create(JobSchema, {
    name: job.name,
    schedule: job.schedule,
    dueTime: job.dueTime,
    ttl: job.ttl,
    repeats: job.repeats,
    data: anyOfPayload(job),
    failurePolicy: job.failurePolicy && messageOfPolicy(job.failurePolicy),
  });
}

function policyOfMessage(p: JobFailurePolicy | undefined): FailurePolicy | undefined {
  if (p?.policy.case === "drop") return { drop: true };
  if (p?.policy.case !== "constant") return undefined;
  const { interval, maxRetries } = p.policy.value;
  const intervalMs = interval ? Number(interval.seconds) * 1000 + interval.nanos / 1e6 : 0;
  if (!(intervalMs >= 0)) throw jobErrors.badInput("ScheduleJob: failurePolicy.constant.interval must not be negative");
  return { constant: { intervalMs, ...(maxRetries !== undefined ? { maxRetries } : {}) } };
}

function messageOfPolicy(p: FailurePolicy): JobFailurePolicy {
  if ("drop" in p) return create(JobFailurePolicySchema, { policy: { case: "drop", value: {} } });
  const { intervalMs, maxRetries } = p.constant;
  const seconds = Math.floor(intervalMs / 1000);
  const interval = create(DurationSchema, { seconds: BigInt(seconds), nanos: Math.round((intervalMs - seconds * 1000) * 1e6) });
  return create(JobFailurePolicySchema, { policy: { case: "constant", value: { interval, maxRetries } } });
}
