// Reads one build's `--progress=rawjson` events (src/types/progress.ts) into
// two things: the timing of every vertex (name, start, end, cached, error) and
// readable log lines in the style of `--progress=plain` (`#3 [2/3] RUN make`,
// its output, `#3 DONE 4.1s`), so the log stays readable. Pure: fed line by line.
import type { BuildStep } from '../model.js';
import { isSolveStatus, type RawVertex, type SolveStatus } from '../types/progress.js';

interface VertexState {
  /** Plain-progress number, in order of first appearance (`#1`, `#2`, ...). */
  n: number;
  name: string;
  started?: number;
  completed?: number;
  cached: boolean;
  error?: string;
  /** Started and not completed since (buildkit may start a vertex again after completing it). */
  running: boolean;
  announced: boolean;
  finished: boolean;
  /** A log line still waiting for its newline. */
  partial: string;
}

function time(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const t = Date.parse(value);
  // Go's zero time (0001-01-01T00:00:00Z) means "not set".
  return Number.isNaN(t) || t <= 0 ? undefined : t;
}

function decode(data: string | undefined): string {
  return data ? Buffer.from(data, 'base64').toString('utf8') : '';
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/**
 * Fed each stderr line of a rawjson build. `line()` returns the readable lines
 * it stands for (a line that is not a progress event, such as buildx's own
 * `ERROR: ...`, is returned as it is); `steps()` the vertices seen so far.
 */
export class ProgressReader {
  private readonly vertices = new Map<string, VertexState>();
  /** The newest event time seen: the end of a step that never completed. */
  private lastSeen = 0;

  line(text: string): string[] {
    const trimmed = text.trim();
    if (!trimmed.startsWith('{')) return trimmed === '' ? [] : [text];
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      return [text];
    }
    return isSolveStatus(parsed) ? this.event(parsed) : [text];
  }

  private event(s: SolveStatus): string[] {
    const out: string[] = [];
    // One event can hold several updates of a vertex (completed, then started
    // again): apply them all, then print what the vertex's final state says.
    const touched = new Set<VertexState>();
    for (const raw of s.vertexes ?? []) touched.add(this.update(raw));
    for (const v of touched) out.push(...this.announce(v));
    for (const l of s.logs ?? []) {
      const v = l.vertex ? this.vertices.get(l.vertex) : undefined;
      this.see(time(l.timestamp));
      if (!v) continue;
      const lines = (v.partial + decode(l.data)).split(/\r?\n/);
      v.partial = lines.pop() ?? '';
      for (const line of lines) out.push(`#${v.n} ${line}`);
    }
    for (const st of s.statuses ?? []) {
      this.see(time(st.completed) ?? time(st.timestamp));
      const v = st.vertex ? this.vertices.get(st.vertex) : undefined;
      if (v && st.completed) out.push(`#${v.n} ${st.id.replace(/:$/, '')} done`);
    }
    for (const w of s.warnings ?? []) {
      const v = w.vertex ? this.vertices.get(w.vertex) : undefined;
      const short = decode(w.short).trim();
      if (short) out.push(`${v ? `#${v.n} ` : ''}WARNING: ${short}`);
    }
    return out;
  }

  private update(raw: RawVertex): VertexState {
    let v = this.vertices.get(raw.digest);
    if (!v) {
      v = { n: this.vertices.size + 1, name: raw.name ?? raw.digest, cached: false, running: false, announced: false, finished: false, partial: '' };
      this.vertices.set(raw.digest, v);
    }
    if (raw.name) v.name = raw.name;
    const started = time(raw.started);
    const completed = time(raw.completed);
    if (started !== undefined && (v.started === undefined || started < v.started)) v.started = started;
    if (completed !== undefined) v.completed = Math.max(completed, v.completed ?? completed);
    // buildkit restarts a vertex by sending it started again without completed.
    if (started !== undefined || completed !== undefined) v.running = completed === undefined;
    if (raw.cached) v.cached = true;
    if (raw.error) v.error = raw.error;
    this.see(completed ?? started);
    return v;
  }

  private announce(v: VertexState): string[] {
    const out: string[] = [];
    if (!v.announced && (v.started !== undefined || v.cached)) {
      v.announced = true;
      out.push('', `#${v.n} ${v.name}`);
    }
    if (v.announced && !v.finished && !v.running && (v.completed !== undefined || v.error)) {
      v.finished = true;
      if (v.partial) out.push(`#${v.n} ${v.partial}`);
      v.partial = '';
      if (v.error) out.push(`#${v.n} ERROR: ${v.error}`);
      else if (v.cached) out.push(`#${v.n} CACHED`);
      else out.push(`#${v.n} DONE ${seconds((v.completed ?? 0) - (v.started ?? v.completed ?? 0))}`);
    }
    return out;
  }

  private see(t: number | undefined): void {
    if (t !== undefined && t > this.lastSeen) this.lastSeen = t;
  }

  /** Every vertex that started or was cached, in the order they started. */
  steps(): BuildStep[] {
    const out: BuildStep[] = [];
    for (const v of this.vertices.values()) {
      if (v.started === undefined && v.completed === undefined && !v.cached) continue;
      const end = v.completed ?? (this.lastSeen || v.started);
      const start = v.started ?? end;
      const step: BuildStep = {
        name: v.name,
        seconds: start !== undefined && end !== undefined ? Math.max(0, end - start) / 1000 : 0,
        cached: v.cached,
      };
      if (v.started !== undefined) step.started = v.started;
      if (v.completed !== undefined) step.completed = v.completed;
      if (v.error) step.error = v.error;
      out.push(step);
    }
    return out.sort((a, b) => (a.started ?? Infinity) - (b.started ?? Infinity));
  }
}

/** The steps of a whole captured rawjson stream. */
export function parseProgress(text: string): BuildStep[] {
  const reader = new ProgressReader();
  for (const line of text.split('\n')) reader.line(line);
  return reader.steps();
}

/** The readable lines a whole captured rawjson stream stands for. */
export function readableLines(text: string): string[] {
  const reader = new ProgressReader();
  return text.split('\n').flatMap((l) => reader.line(l));
}

/** A Dockerfile RUN step (the only kind that runs the target's binaries, so the only kind QEMU slows). */
export function isRunStep(name: string): boolean {
  return /^(\[[^\]]*\]\s+)?RUN\s/.test(name);
}

/** The longest a step's label gets (a RUN line can be a whole script). */
const LABEL_MAX = 60;

/** The name without buildkit's `[stage n/m]` position prefix, whitespace folded, cut at 60 characters. */
export function stepLabel(name: string): string {
  const label = name.replace(/^\[[^\]]*\]\s+/, '').replace(/\s+/g, ' ');
  return label.length > LABEL_MAX ? `${label.slice(0, LABEL_MAX - 1)}…` : label;
}

/**
 * What identifies "the same step" across the platforms of one run: the
 * position prefix and the instruction (`[2/3] RUN`), since the rest of the
 * name has the platform's build args expanded (`GOARCH=arm64`). A name with no
 * prefix is its own key.
 */
export function stepKey(name: string): string {
  const m = /^(\[[^\]]*\])\s+(\S+)/.exec(name);
  return m ? `${m[1]} ${m[2]}` : name;
}
