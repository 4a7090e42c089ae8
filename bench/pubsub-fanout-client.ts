// Child of bench/pubsub.ts: holds N WebSocket subscribers and reports, per event, when each of them got it.
export {};
// argv: <ws url> <count>. stdout (JSON lines): {"ready": connected}, then {"seq": s, "arrivals": [abs ms, …]}.
const [url, countText] = process.argv.slice(2);
const count = Number(countText);
const now = () => performance.timeOrigin + performance.now();
const arrivals = new Map<number, number[]>();
const flushTimers = new Map<number, ReturnType<typeof setTimeout>>();
let connected = 0;

function report(seq: number) {
  clearTimeout(flushTimers.get(seq));
  flushTimers.delete(seq);
  console.log(JSON.stringify({ seq, arrivals: arrivals.get(seq) ?? [] }));
  arrivals.delete(seq);
}

function onFrame(text: string) {
  // Frames are {"dropped":N,"event":{…"data":{"seq":S,…}…}}; find S without parsing the whole frame.
  const i = text.indexOf('"seq":');
  if (i < 0) return;
  const seq = parseInt(text.slice(i + 6, i + 20), 10);
  let list = arrivals.get(seq);
  if (!list) {
    arrivals.set(seq, (list = []));
    flushTimers.set(seq, setTimeout(() => report(seq), 10_000));
  }
  list.push(now());
  if (list.length === connected) report(seq);
}

const sockets: WebSocket[] = [];
for (let i = 0; i < count; i += 250) {
  const wave = Math.min(250, count - i);
  const before = connected;
  await Promise.all(Array.from({ length: wave }, () => new Promise<void>((resolve) => {
    const ws = new WebSocket(url);
    let ready = false;
    ws.onmessage = (m) => {
      if (!ready) {
        ready = true;
        connected++;
        resolve();
        return;
      }
      onFrame(m.data as string);
    };
    ws.onclose = () => resolve();
    ws.onerror = () => resolve();
    sockets.push(ws);
  })));
  if (connected - before < wave) break;
}
console.log(JSON.stringify({ ready: connected }));
process.stdin.on("data", () => {
  for (const ws of sockets) ws.close();
  process.exit(0);
});
