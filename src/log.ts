// The logger every phase writes to. main wires it to the runner commands; tests pass
// their own. It sits below every module that logs, so none imports main.
export interface Logger {
  info(message: string): void;
  warning(message: string): void;
  debug(message: string): void;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
}
