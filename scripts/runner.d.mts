// Types for scripts/runner.mjs.
export declare const ROOT: string;

export interface ActionRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout + stderr of main and post as the runner would log them (add-mask commands dropped). */
  log: string;
  outputs: Record<string, string>;
  summary: string;
  summaryFile: string;
  state: Record<string, string>;
  /** `ran`: whether the runner would have started post (action.yml post-if: after a failed or cancelled main). */
  post: { ran: boolean; exitCode: number; stdout: string; stderr: string };
  seconds: number;
  workDir: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  eventName?: string;
  /** Skip the post step even where post-if would run it (to inspect what main left behind). */
  skipPost?: boolean;
  /** Run the post step even where post-if would not (a later step of the job failed). */
  forcePost?: boolean;
  debug?: boolean;
  /** Stream the action's output to this process's stdout/stderr instead of capturing it. */
  inheritOutput?: boolean;
}

export declare function parseCommandFile(text: string): Record<string, string>;
export declare function runAction(inputs: Record<string, string>, opts?: RunOptions): ActionRun;

export interface AsyncRunOptions extends RunOptions {
  /** A regular expression (multiline): main is signalled as soon as its output matches it. */
  signalWhen?: string;
  signal?: NodeJS.Signals;
}
/** Main runs in the background and may be signalled; `signalledAt` is seconds after the start, when it was. */
export declare function runActionAsync(inputs: Record<string, string>, opts?: AsyncRunOptions): Promise<ActionRun & { signalledAt?: number }>;
export declare function errorLines(run: ActionRun): string[];
/** Whether the runner starts post for this post-if expression after main ended so. */
export declare function postRuns(expression: string, status: { failed: boolean; cancelled: boolean }): boolean;
