// The one contract between what a filter asks of its stream and the chain that carries it out.
//
// A host call (proxy_send_local_response, proxy_continue_stream, proxy_close_stream) only *records*
// what it asks for here; the stream's chain carries it out after the guest callback has returned:
// right after the callback when the stream's own callback asked (FilterChain reads it as it goes
// on), or, when it came from elsewhere (a tick, an http-call response, another stream's callback
// through proxy_set_effective_context, the instance dying under a paused stream), once that callback
// is over, through StreamActor.act(). This is cpp-host's model of deferred after-VM-call actions: no
// host call ever runs the chain, so no guest export is ever called from inside a host call, and a
// host call's effects never interleave with a guest's half-finished state.
//
// What may be pending is a small fixed set, so it is kept as typed slots rather than a list: a
// second local reply replaces the first (Envoy sends one), resumes and closes are per direction.

import type { FilterFault, FilterInstance } from './filter-instance.js';

/** A reply a filter (or the chain, failing closed) sends instead of the upstream's response. */
export interface LocalReply {
  status: number;
  body: Buffer;
  /** Flat [k, v, ...] extra headers. */
  headers: string[];
  details: string;
  /** Which filter sent it (for logs and the x-outrigger-filter header); '' for the proxy itself. */
  filter: string;
}

/** Which way of the stream an action is for (a bit each, so both fit one slot). */
export const enum StreamDirection {
  Request = 1,
  Response = 2,
}

/** The instance of a filter died while the stream waited on it: only its policy can move it on. */
export interface InstanceFault {
  filter: FilterInstance;
  error: FilterFault;
}

/** What a callback may ask of its stream: the ABI glue's whole view of it. */
export interface StreamRequests {
  sendLocalReply(reply: LocalReply): void;
  continueStream(direction: StreamDirection): void;
  closeStream(direction: StreamDirection): void;
}

/** Who carries out actions that arrived from outside the stream's own callbacks. The chain. */
export interface StreamActor {
  act(): void;
}

/** The pending actions of one stream: recorded by host calls, taken by the chain. */
export class StreamActions implements StreamRequests {
  #reply: LocalReply | null = null;
  #resume = 0;
  #close = 0;
  #fault: InstanceFault | null = null;

  sendLocalReply(reply: LocalReply): void {
    this.#reply = reply;
  }

  continueStream(direction: StreamDirection): void {
    this.#resume |= direction;
  }

  closeStream(direction: StreamDirection): void {
    this.#close |= direction;
  }

  /** Recorded by the filter's owner (WasmFilter) for each stream paused on an instance that died. */
  instanceFaulted(fault: InstanceFault): void {
    this.#fault = fault;
  }

  get hasReply(): boolean {
    return this.#reply !== null;
  }

  /** A reply or a close is pending: either ends the filtering. */
  get ending(): boolean {
    return this.#reply !== null || this.#close !== 0;
  }

  takeReply(): LocalReply | null {
    const r = this.#reply;
    this.#reply = null;
    return r;
  }

  /** A close of either direction resets the whole stream, as Envoy's resetStream does. */
  takeClose(): boolean {
    const c = this.#close !== 0;
    this.#close = 0;
    return c;
  }

  takeResume(direction: StreamDirection): boolean {
    if ((this.#resume & direction) === 0) return false;
    this.#resume &= ~direction;
    return true;
  }

  takeFault(): InstanceFault | null {
    const f = this.#fault;
    this.#fault = null;
    return f;
  }

  /** A fault mid-callback may have left a half-made reply, resume or close behind: none of it counts. */
  discardRequests(): void {
    this.#reply = null;
    this.#resume = 0;
    this.#close = 0;
  }
}
