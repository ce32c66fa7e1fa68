// One attempt of a registry request: its stall watchdog, which registry is to
// blame when it fails, and what a failed attempt tells the retry policy (an
// HTTP status with the registry's error code, or the network error's code).
import { errorMessage } from '../util/errors.js';
import type { HttpResponse } from './http.js';
import { Transform, type Readable } from 'node:stream';

/** A status that is neither ok nor accepted: the attempt failed with it. */
export class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly retryAfter: string | null,
    /** The first error code of the registry's JSON error body (`MANIFEST_BLOB_UNKNOWN`), if any. */
    readonly code?: string,
  ) {
    super(`HTTP ${status}${code ? ` (${code})` : ''}`);
  }
}

/**
 * One attempt's watchdog: aborts the attempt's requests when no byte has
 * flowed for `ms`, and remembers which request it was in and on which registry.
 */
export class Attempt {
  private readonly controller = new AbortController();
  readonly signal: AbortSignal;
  private timer: ReturnType<typeof setTimeout> | undefined;
  stalled = false;
  /** `METHOD /path` of the request in flight. */
  request = '';
  /** The registry of the request in flight (an upload also reads its source). */
  registry: string;
  /** Set when a stream from another registry failed inside this attempt: that one is to blame. */
  blamedRegistry: string | undefined;

  constructor(
    private readonly ms: number,
    registry: string,
    cancel: AbortSignal | undefined,
  ) {
    this.registry = registry;
    this.signal = cancel ? AbortSignal.any([this.controller.signal, cancel]) : this.controller.signal;
    this.touch();
  }

  /** The registry a failure of this attempt is blamed on. */
  get culprit(): string {
    return this.blamedRegistry ?? this.registry;
  }

  /** Bytes flowed: the stall clock starts again. */
  touch(): void {
    this.pause();
    if (this.stalled) return;
    this.timer = setTimeout(() => {
      this.stalled = true;
      this.controller.abort(new Error(`${this.request} stalled`));
    }, this.ms);
  }

  /** While the attempt waits on something with its own clock (the token service). */
  pause(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A body stream that touches the clock with every chunk. */
  watch(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    return stream.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, ctl) => {
          this.touch();
          ctl.enqueue(chunk);
        },
      }),
    );
  }

  /**
   * A body read from `registry` and passed on as another request's body (a
   * blob copy's GET into its PUT), through node streams: each chunk touches
   * the stall clock; when the source fails (it cut its body) the failure is
   * that registry's, not the one the upload goes to; when the upload stops
   * reading, the source is let go.
   */
  relay(source: Readable, registry: string): Readable {
    const out = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        this.touch();
        done(null, chunk);
      },
    });
    source.once('error', (err) => {
      // An abort (a stall, a cancel) ends the source too; that is not the source's failure.
      if (!this.signal.aborted) this.blamedRegistry = registry;
      out.destroy(err);
    });
    out.once('close', () => {
      if (!source.readableEnded) source.destroy();
    });
    source.pipe(out);
    return out;
  }
}

export async function drain(res: HttpResponse): Promise<void> {
  await res.arrayBuffer().catch(() => undefined);
}

/** The first `errors[].code` of a registry's JSON error body. */
export function errorCode(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { errors?: { code?: unknown }[] };
    const code = parsed.errors?.[0]?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

/** The failure a non-ok answer stands for (its body read for the registry's error code). */
export async function failed(res: HttpResponse): Promise<HttpFailure> {
  const body = await res.text().catch(() => '');
  return new HttpFailure(res.status, res.headers.get('retry-after'), errorCode(body));
}

/** A response's whole body, each chunk touching the attempt's stall clock (node streams where the transport has them). */
export async function bodyOf(res: HttpResponse, ctx: Attempt): Promise<Buffer> {
  if (res.nodeBody) {
    const chunks: Buffer[] = [];
    for await (const chunk of res.nodeBody) {
      ctx.touch();
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }
  return res.body ? readAll(ctx.watch(res.body)) : Buffer.alloc(0);
}

export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/**
 * The most specific code of a network error: undici nests them (`fetch
 * failed` <- `terminated` <- `UND_ERR_RES_CONTENT_LENGTH_MISMATCH`), so the
 * deepest `code` along the cause chain, else the innermost message.
 */
export function networkCode(err: unknown): string {
  let code: string | undefined;
  let message = errorMessage(err);
  const seen = new Set<unknown>();
  for (let e = err as { code?: unknown; cause?: unknown; message?: unknown } | undefined; e && typeof e === 'object' && !seen.has(e);) {
    seen.add(e);
    if (typeof e.code === 'string') code = e.code;
    if (typeof e.message === 'string' && e.message) message = e.message;
    e = e.cause as typeof e;
  }
  return code ?? message;
}
