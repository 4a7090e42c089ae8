// Stream and consumer names may not contain whitespace, ".", "*", ">", "/" or "\\"; map those to "_".
export function natsName(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, "_");
}
