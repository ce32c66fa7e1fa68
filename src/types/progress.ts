// The events `docker buildx build --progress=rawjson` writes to stderr: one
// JSON object per line, each a buildkit `client.SolveStatus`, marshalled by
// buildkit's rawJSONDisplay (json.Encoder, so one object per line).
//
// Upstream structs mirrored here (only the fields we read are typed):
// - SolveStatus, Vertex, VertexStatus, VertexLog, VertexWarning:
//   https://github.com/moby/buildkit/blob/v0.32.2/client/graph.go
// - the display: newRawJSONDisplay in
//   https://github.com/moby/buildkit/blob/v0.32.2/util/progress/progressui/display.go
// Times are Go `time.Time` (RFC 3339 with nanoseconds); `[]byte` fields are base64.

/** client.Vertex: one step of the build graph (a Dockerfile instruction, an internal load, an export). */
export interface RawVertex {
  digest: string;
  inputs?: string[];
  name?: string;
  started?: string;
  completed?: string;
  cached?: boolean;
  error?: string;
}

/** client.VertexStatus: progress of one part of a vertex (a layer push, a transfer). */
export interface RawVertexStatus {
  id: string;
  vertex?: string;
  name?: string;
  total?: number;
  current?: number;
  timestamp?: string;
  started?: string;
  completed?: string;
}

/** client.VertexLog: output of a vertex's process; `data` is base64. */
export interface RawVertexLog {
  vertex?: string;
  stream?: number;
  data?: string;
  timestamp?: string;
}

/** client.VertexWarning; `short` is base64. */
export interface RawVertexWarning {
  vertex?: string;
  level?: number;
  short?: string;
  url?: string;
}

/** client.SolveStatus: one rawjson line. */
export interface SolveStatus {
  vertexes?: RawVertex[];
  statuses?: RawVertexStatus[];
  logs?: RawVertexLog[];
  warnings?: RawVertexWarning[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optional(o: Record<string, unknown>, key: string, type: 'string' | 'number' | 'boolean'): boolean {
  return o[key] === undefined || o[key] === null || typeof o[key] === type;
}

function arrayOf(v: unknown, item: (x: unknown) => boolean): boolean {
  return v === undefined || v === null || (Array.isArray(v) && v.every(item));
}

function isRawVertex(v: unknown): v is RawVertex {
  return (
    isObject(v) &&
    typeof v.digest === 'string' &&
    optional(v, 'name', 'string') &&
    optional(v, 'started', 'string') &&
    optional(v, 'completed', 'string') &&
    optional(v, 'cached', 'boolean') &&
    optional(v, 'error', 'string')
  );
}

function isRawVertexStatus(v: unknown): v is RawVertexStatus {
  return (
    isObject(v) && typeof v.id === 'string' && optional(v, 'vertex', 'string') && optional(v, 'name', 'string') && optional(v, 'completed', 'string')
  );
}

function isRawVertexLog(v: unknown): v is RawVertexLog {
  return isObject(v) && optional(v, 'vertex', 'string') && optional(v, 'data', 'string') && optional(v, 'timestamp', 'string');
}

function isRawVertexWarning(v: unknown): v is RawVertexWarning {
  return isObject(v) && optional(v, 'vertex', 'string') && optional(v, 'short', 'string');
}

/** True for a rawjson line's object: every list present is a list of well-formed entries. */
export function isSolveStatus(v: unknown): v is SolveStatus {
  if (!isObject(v)) return false;
  if (!['vertexes', 'statuses', 'logs', 'warnings'].some((k) => k in v)) return false;
  return (
    arrayOf(v.vertexes, isRawVertex) &&
    arrayOf(v.statuses, isRawVertexStatus) &&
    arrayOf(v.logs, isRawVertexLog) &&
    arrayOf(v.warnings, isRawVertexWarning)
  );
}
