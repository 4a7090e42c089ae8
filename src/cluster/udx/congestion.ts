import { seqDiff } from "./wire.js";

const INITIAL_CWND = 10;
const MIN_CWND = 2;
const MAX_CWND = 4096;

/**
 * NewReno congestion control in packets (RFC 5681/6582): slow start, additive increase, halving on a
 * loss episode (once per window, until the ack passes `highSeq`), and restart from one packet after an RTO.
 * The peer does not see this: libudx runs BBR on its side; both are sender-local choices.
 */
export class CongestionControl {
  cwnd = INITIAL_CWND;
  ssthresh = Infinity;
  highSeq = 0;
  private state: "open" | "recovery" | "loss" = "open";

  get inRecovery(): boolean {
    return this.state !== "open";
  }

  onDelivered(packets: number): void {
    if (this.state !== "open") return;
    if (this.cwnd < this.ssthresh) this.cwnd = Math.min(this.cwnd + packets, MAX_CWND);
    else this.cwnd = Math.min(this.cwnd + packets / this.cwnd, MAX_CWND);
  }

  /** Returns true when this loss starts a new recovery episode. */
  enterRecovery(seq: number, inflight: number): boolean {
    if (this.state !== "open") return false;
    this.ssthresh = Math.max(Math.max(this.cwnd, inflight) / 2, MIN_CWND);
    this.cwnd = this.ssthresh;
    this.highSeq = seq;
    this.state = "recovery";
    return true;
  }

  exitRecovery(): void {
    if (this.state === "open") return;
    if (this.state === "recovery") this.cwnd = this.ssthresh;
    this.state = "open";
  }

  onRto(seq: number, inflight: number): void {
    if (this.state !== "loss") this.ssthresh = Math.max(Math.max(this.cwnd, inflight) / 2, MIN_CWND);
    this.cwnd = 1;
    this.highSeq = seq;
    this.state = "loss";
  }

  /** True when `ack` has passed the sequence at which the current loss episode began. */
  ackEndsEpisode(ack: number): boolean {
    return seqDiff(ack, this.highSeq) > 0;
  }
}
