// Actor timers and reminders on the scheduler's TimerEngine: keys `<type>||<id>||<name>` (names cannot hold "||",
// so a key splits back unambiguously), the registration's own texts kept in the entry for reporting and firing.
import type { TimerEntry } from "../../scheduler/store.js";

export interface TimerData {
  actorType: string;
  actorId: string;
  name: string;
  dueTime: string;
  period: string;
  ttl: string;
  /** JSON text. */
  data?: string;
  /** Timers only: the method the SDK calls. */
  callback?: string;
}

export const timerKey = (actorType: string, actorId: string, name: string) => `${actorType}||${actorId}||${name}`;

/** The type and id a key names. */
export function actorOfKey(key: string): { actorType: string; actorId: string } {
  const [actorType = "", actorId = ""] = key.split("||");
  return { actorType, actorId };
}

/** A reminder as GetActorReminder and ListActorReminders report it (ttl: the expiry, RFC 3339, as daprd). */
export interface ReminderInfo {
  name: string;
  actorType: string;
  actorId: string;
  dueTime?: string;
  period?: string;
  ttl?: string;
  /** JSON text. */
  data?: string;
}

export function reminderInfo(entry: Readonly<TimerEntry<TimerData>>): ReminderInfo {
  const d = entry.data!;
  const info: ReminderInfo = { name: d.name, actorType: d.actorType, actorId: d.actorId };
  if (d.dueTime) info.dueTime = d.dueTime;
  if (d.period) info.period = d.period;
  if (entry.expiresAt !== undefined) info.ttl = new Date(entry.expiresAt).toISOString();
  if (d.data !== undefined) info.data = d.data;
  return info;
}
