// The jobs building block on one node: jobs are durable timers (src/scheduler) in the actor state store (or the
// only state store), one namespace per app id, fired to the app as daprd does: HTTP apps get POST /job/{name}.
import { Slot } from "../../runtime/block.js";
import type { AppChannel } from "../../app/channel.js";
import type { ComponentRegistry } from "../../components/registry.js";
import type { StateStore } from "../../components/contracts/state.js";
import { findActorStateStore } from "../actors/actor-state.js";
import { TimerEngine, type FailurePolicy, type TimerEntry } from "../../scheduler/engine.js";
import { StateTimerStore } from "../../scheduler/store.js";
import { jobPlan, TimeFormatError } from "../../scheduler/time-formats.js";
import { DaprError, messageOf } from "../../errors.js";
import { Code } from "@connectrpc/connect";
import { anyOfPayload, httpBodyOfPayload, type JobPayload } from "./job-data.js";

/** A job as the API takes and reports it (daprd's Job message); its payload in the shape it came in. */
export interface Job extends JobPayload {
  name: string;
  schedule?: string;
  dueTime?: string;
  repeats?: number;
  ttl?: string;
  failurePolicy?: FailurePolicy;
}

/** What a timer entry carries: the job as given, to report it back and to deliver its data. */
type JobData = Omit<Job, "failurePolicy">;

/** How long a due job waits for the app's port to open (at start-up) before the attempt counts as failed. */
const APP_WAIT_MS = 30_000;
const NAME = /^[A-Za-z0-9_.\-]+$/;

/** daprd's scheduler errors: the ErrorInfo reason as errorCode. */
export const jobErrors = {
  badInput: (m: string) => new DaprError("DAPR_SCHEDULER_SCHEDULE_JOB", m, 400, Code.InvalidArgument),
  schedule: (m: string) => new DaprError("DAPR_SCHEDULER_SCHEDULE_JOB", `failed to schedule job due to: ${m}`, 500, Code.Internal),
  alreadyExists: (name: string) => new DaprError("DAPR_SCHEDULER_SCHEDULE_JOB", `failed to schedule job due to: job ${name} already exists`, 409, Code.AlreadyExists),
  notFound: (name: string) => new DaprError("DAPR_SCHEDULER_GET_JOB", `failed to get job due to: job not found: ${name}`, 404, Code.NotFound),
  notConfigured: () =>
    new DaprError("DAPR_SCHEDULER_SCHEDULE_JOB", "the jobs API needs a state store with the query API (state.sqlite, state.postgresql, state.in-memory)", 500, Code.FailedPrecondition),
};

export class JobsBlock {
  private readonly engine: TimerEngine<JobData>;

  constructor(store: StateStore, appId: string, private readonly channel: AppChannel) {
    this.engine = new TimerEngine<JobData>({
      store: new StateTimerStore(store, `jobs||${appId}||`),
      fire: (entry) => this.deliver(entry),
    });
  }

  start(): Promise<void> {
    return this.engine.start();
  }

  close(): Promise<void> {
    return this.engine.close();
  }

  async schedule(job: Job, overwrite: boolean): Promise<void> {
    checkName(job.name);
    let plan;
    try {
      plan = jobPlan(job, Date.now());
    } catch (err) {
      if (err instanceof TimeFormatError) throw jobErrors.badInput(err.message);
      throw err;
    }
    if (!overwrite && this.engine.get(job.name)) throw jobErrors.alreadyExists(job.name);
    const { failurePolicy, ...data } = job;
    try {
      await this.engine.schedule(job.name, { ...plan, data, failurePolicy });
    } catch (err) {
      throw jobErrors.schedule(messageOf(err));
    }
  }

  get(name: string): Job {
    checkName(name);
    const entry = this.engine.get(name);
    if (!entry) throw jobErrors.notFound(name);
    return { ...entry.data!, ...(entry.failurePolicy ? { failurePolicy: entry.failurePolicy } : {}) };
  }

  list(): Job[] {
    return this.engine.list().map((e) => this.get(e.key));
  }

  async delete(name: string): Promise<void> {
    checkName(name);
    await this.engine.cancel(name);
  }

  async deleteByPrefix(prefix: string): Promise<void> {
    await this.engine.cancelPrefix(prefix);
  }

  /** daprd's delivery: gRPC apps get OnJobEventAlpha1, HTTP apps POST /job/{name}; a failure is retried by policy. */
  private async deliver(entry: Readonly<TimerEntry<JobData>>): Promise<void> {
    if (!this.channel.configured) throw new Error(`no app to deliver job ${entry.key} to (--app-port)`);
    if (!this.channel.channelUp && !(await this.channel.waitForPort(APP_WAIT_MS))) throw new Error(`the app's port did not open for job ${entry.key}`);
    const payload = entry.data ?? {};
    const method = `job/${encodeURIComponent(entry.key)}`;
    const { body, contentType } = httpBodyOfPayload(payload);
    const alpha = this.channel.callbackAlpha;
    if (alpha) {
      await this.channel.run(() => alpha.onJobEventAlpha1({ name: entry.key, data: anyOfPayload(payload), method, contentType }));
      return;
    }
    const res = await this.channel.http({ method: "POST", path: method, headers: { "content-type": contentType }, body });
    if (res.status < 200 || res.status > 299) throw new Error(`app answered ${res.status} to job ${entry.key}`);
  }
}

function checkName(name: string): void {
  if (!name) throw jobErrors.badInput("job name is empty");
  if (!NAME.test(name)) throw jobErrors.badInput(`job name ${JSON.stringify(name)} may hold only letters, digits, '-', '_' and '.'`);
}

/** The store jobs persist in: the actor state store, else the only state store. */
export function jobStore(registry: ComponentRegistry): StateStore | undefined {
  const states = registry.list("state");
  return findActorStateStore(registry)?.store ?? (states.length === 1 ? (states[0]!.instance as StateStore) : undefined);
}

/** The running jobs block, for the API fronts. */
export const jobsSlot = new Slot<JobsBlock>("jobs");
