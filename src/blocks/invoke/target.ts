// Invocation targets: "orders" or "orders.production" (app id, then namespace after the last dot).

export interface InvokeTarget {
  appId: string;
  namespace: string;
}

/** Parses an app id as Dapr does; an id equal to selfAppId is never split (app ids may contain dots). */
export function parseTarget(id: string, defaultNamespace: string, selfAppId?: string): InvokeTarget {
  if (id === selfAppId) return { appId: id, namespace: defaultNamespace };
  const dot = id.lastIndexOf(".");
  if (dot <= 0 || dot === id.length - 1) return { appId: id, namespace: defaultNamespace };
  return { appId: id.slice(0, dot), namespace: id.slice(dot + 1) };
}
