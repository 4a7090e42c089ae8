// Loads third-party plugins at run time from --plugins-path: every .js/.ts/.mjs module there whose default
// export (or named export "plugins") is a component plugin or a list of them.
import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ComponentPlugin } from "./plugin.js";

export class PluginLoadError extends Error {
  constructor(readonly file: string, message: string) {
    super(`plugin ${file}: ${message}`);
    this.name = "PluginLoadError";
  }
}

export async function loadExternalPlugins(dirs: string[]): Promise<ComponentPlugin<any, any>[]> {
  const out: ComponentPlugin<any, any>[] = [];
  for (const dir of dirs) {
    for (const file of moduleFiles(dir)) {
      let mod: Record<string, unknown>;
      try {
        mod = await import(file);
      } catch (err) {
        throw new PluginLoadError(file, `cannot be imported: ${err instanceof Error ? err.message : err}`);
      }
      const exported = mod.plugins ?? mod.default;
      const list = Array.isArray(exported) ? exported : [exported];
      list.forEach((p, i) => out.push(validatePlugin(p, `${file}${list.length > 1 ? `[${i}]` : ""}`)));
    }
  }
  return out;
}

function moduleFiles(dir: string): string[] {
  const abs = resolve(dir);
  try {
    if (statSync(abs).isFile()) return [abs];
  } catch {
    throw new PluginLoadError(abs, "plugins path does not exist");
  }
  return readdirSync(abs)
    .filter((f) => /\.(m?js|ts)$/.test(f) && !f.endsWith(".d.ts"))
    .sort()
    .map((f) => join(abs, f));
}

function validatePlugin(p: any, where: string): ComponentPlugin<any, any> {
  if (!p || typeof p !== "object") throw new PluginLoadError(where, "default export must be a component plugin object");
  if (typeof p.type !== "string" || !/^[a-z0-9]+\.[A-Za-z0-9_.-]+$/.test(p.type)) throw new PluginLoadError(where, 'field "type" must look like "state.mystore"');
  if (typeof p.create !== "function") throw new PluginLoadError(where, 'field "create" must be a function');
  if (p.metadata !== undefined && (typeof p.metadata !== "object" || p.metadata === null)) throw new PluginLoadError(where, 'field "metadata" must be an object');
  return { metadata: {}, ...p };
}
