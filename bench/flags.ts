// The benches' command line: `--name value` options and bare `--name` switches.
const argv = process.argv.slice(2);

/** The value after `--name`, or undefined when the option is absent. */
export function flagText(name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? undefined : argv[i + 1];
}

export function flagNumber(name: string, fallback: number): number {
  const text = flagText(name);
  return text === undefined ? fallback : Number(text);
}

export function hasFlag(name: string): boolean {
  return argv.includes(`--${name}`);
}
