// Generates TypeScript from Dapr's protos (shipped in @dapr/dapr) and Rapr's own protos into src/gen.
import { $ } from "bun";

const root = new URL("..", import.meta.url).pathname;
const bin = `${root}node_modules/.bin`;
await $`${bin}/buf generate`.cwd(root).env({ ...process.env, PATH: `${bin}:${process.env.PATH}` });
