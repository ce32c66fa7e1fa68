// What the tag & promote phase wrote, so a failed run says truthfully which
// references were written and which were not, and what its rollback undid.
// Pure bookkeeping; the phase fills it in as it goes.

export interface WriteRecord {
  /** `registry/repository:tag` */
  ref: string;
  digest: string;
  /** What the tag pointed at before this run wrote it (undefined: it did not exist). */
  previous?: string;
}

/** The ledger as the summary and the error message read it. */
export interface WriteReport {
  /** Written (and, on success, verified) and still in place. */
  wrote: string[];
  /** Planned and never written (a failure came first). */
  notWritten: string[];
  /** Already at the digest: nothing written. */
  unchanged: string[];
  /** Written, then undone after the failure (`ref (deleted)` or `ref (restored to sha256:...)`). */
  rolledBack: string[];
}

export class WriteLedger {
  private readonly written: WriteRecord[] = [];
  private readonly same: string[] = [];
  private readonly undone = new Map<string, string>();

  constructor(private readonly planned: readonly string[]) {}

  wrote(record: WriteRecord): void {
    this.written.push(record);
  }

  unchanged(ref: string): void {
    this.same.push(ref);
  }

  /** Records that the write of `ref` was undone (`how`: "deleted", "restored to sha256:..."). */
  rolledBack(ref: string, how: string): void {
    this.undone.set(ref, how);
  }

  /** Writes still in place, newest first (the order a rollback undoes them). */
  toUndo(): WriteRecord[] {
    return this.written.filter((w) => !this.undone.has(w.ref)).reverse();
  }

  /** Written and unchanged references in plan order, however the writes finished (they run at once). */
  report(): WriteReport {
    const written = new Set(this.written.map((w) => w.ref));
    const inPlan = (refs: string[]): string[] => refs.sort((a, b) => this.planned.indexOf(a) - this.planned.indexOf(b));
    return {
      wrote: inPlan(this.written.filter((w) => !this.undone.has(w.ref)).map((w) => w.ref)),
      notWritten: this.planned.filter((r) => !written.has(r) && !this.same.includes(r) && !this.undone.has(r)),
      unchanged: inPlan([...this.same]),
      rolledBack: [...this.undone].map(([ref, how]) => `${ref} (${how})`),
    };
  }
}

/** `wrote: a, b; not written: c; rolled back: d (deleted)`: one line for the error and the summary. */
export function describeWrites(r: WriteReport): string {
  const list = (xs: readonly string[]): string => (xs.length ? xs.join(', ') : 'none');
  const parts = [`wrote: ${list(r.wrote)}`, `not written: ${list(r.notWritten)}`];
  if (r.rolledBack.length) parts.push(`rolled back: ${list(r.rolledBack)}`);
  if (r.unchanged.length) parts.push(`unchanged: ${list(r.unchanged)}`);
  return parts.join('; ');
}
