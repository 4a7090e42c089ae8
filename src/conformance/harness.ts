// What every conformance suite shares: building a component the way rapr does (typed metadata, a plugin context),
// loading a plugin the way --plugins-path does, and gating cases on the features a component declares.
import { describe, expect, test } from "bun:test";
import { tmpdir } from "node:os";
import { loadExternalPlugins } from "../components/external-plugins.js";
import { parseMetadata } from "../components/metadata-schema.js";
import type { Component, ComponentPlugin, PluginContext } from "../components/plugin.js";
import { silentLogger } from "../observability/logger.js";

/** A component under test and how to dispose of it (close() by default). */
export interface Subject<C extends Component> {
  component: C;
  cleanup?(): Promise<void>;
}

export type SubjectFactory<C extends Component> = () => Promise<Subject<C>>;

export interface SuiteOptions {
  /** Register every case as skipped (e.g. the backend is not running); the component is not created. */
  skip?: boolean;
  /** Features the component must declare (the built-in plugins pin theirs so a lost claim fails loudly). */
  expectFeatures?: string[];
}

/** Creates a component from a plugin as rapr's registry does: metadata parsed against the plugin's schema. */
export async function createComponent<C extends Component>(
  plugin: ComponentPlugin<any, any>,
  rawMetadata: Record<string, string> = {},
  ctx: Partial<PluginContext> = {},
): Promise<C> {
  const full: PluginContext = { name: "conformance", appId: "conformance", dataDir: tmpdir(), logger: silentLogger, ...ctx };
  return (await plugin.create(parseMetadata(plugin.metadata, rawMetadata), full)) as C;
}

/** The plugin of type `type` from a --plugins-path file or directory, loaded and validated exactly as rapr does. */
export async function loadPlugin(path: string, type: string): Promise<ComponentPlugin<any, any>> {
  const plugins = await loadExternalPlugins([path]);
  const found = plugins.find((p) => p.type === type);
  if (!found) throw new Error(`no plugin of type ${type} in ${path} (found: ${plugins.map((p) => p.type).join(", ") || "none"})`);
  return found;
}

export const disposeOf = <C extends Component>(s: Subject<C>): Promise<void> => (s.cleanup ? s.cleanup() : s.component.close());

/**
 * The features the component declares, read from a throw-away instance so the suite can decide at registration which
 * cases apply (features may depend on metadata). Undefined when the suite is skipped.
 */
export async function probeFeatures<C extends Component>(factory: SubjectFactory<C>, read: (c: C) => readonly string[], opts: SuiteOptions): Promise<Set<string> | undefined> {
  if (opts.skip) return undefined;
  const subject = await factory();
  try {
    return new Set(read(subject.component));
  } finally {
    await disposeOf(subject);
  }
}

/**
 * Registers a feature's cases: when declared (or when the suite is skipped), `claimed` runs; otherwise `lacking`, which
 * checks that the component really lacks what it does not claim.
 */
export function forFeature(declared: Set<string> | undefined, feature: string, claimed: () => void, lacking: () => void): void {
  if (!declared || declared.has(feature)) claimed();
  else describe(`without ${feature}`, lacking);
}

/** The cases every suite starts with: the declared features are known names, and the pinned ones are there. */
export function featureCases(all: readonly string[], features: () => readonly string[], opts: SuiteOptions): void {
  test("declares only features it knows, each once", () => {
    const f = features();
    expect(all).toEqual(expect.arrayContaining([...f]));
    expect(new Set(f).size).toBe(f.length);
  });
  if (opts.expectFeatures?.length) {
    test(`declares ${opts.expectFeatures.join(", ")}`, () => {
      expect(features()).toEqual(expect.arrayContaining(opts.expectFeatures!));
    });
  }
}

/** Polls until `check` answers truthy, at most `timeoutMs`. */
export async function eventually(check: () => Promise<unknown>, what: string, timeoutMs = 10_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(everyMs);
  }
}
