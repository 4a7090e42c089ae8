// Dapr's state key prefix: "{appId}||{key}" by default; the component's keyPrefix metadata picks another.
import type { ComponentSpec } from "../../components/component.js";

const SEP = "||";

export class KeyPrefixer {
  private constructor(private readonly prefix: string) {}

  /** keyPrefix: "appid" (default) | "name" (component name) | "namespace" | "none" | any other string, used as is. */
  static fromComponent(spec: ComponentSpec, appId: string): KeyPrefixer {
    const setting = spec.metadata.find((m) => m.name.toLowerCase() === "keyprefix")?.value?.trim() || "appid";
    switch (setting.toLowerCase()) {
      case "appid": return new KeyPrefixer(appId + SEP);
      case "name": return new KeyPrefixer(spec.name + SEP);
      case "namespace": return new KeyPrefixer((spec.namespace ? `${spec.namespace}.${appId}` : appId) + SEP);
      case "none": return new KeyPrefixer("");
      default: return new KeyPrefixer(setting + SEP);
    }
  }

  apply(key: string): string {
    return this.prefix + key;
  }

  strip(key: string): string {
    return key.startsWith(this.prefix) ? key.slice(this.prefix.length) : key;
  }

  queryPrefix(): string {
    return this.prefix;
  }
}
