import type { Component } from "../plugin.js";

export interface SecretStore extends Component {
  /** One secret: a map of key → value (most stores hold a single key equal to the secret's name). */
  get(name: string, metadata?: Record<string, string>): Promise<Record<string, string> | undefined>;
  bulkGet(metadata?: Record<string, string>): Promise<Record<string, Record<string, string>>>;
}
