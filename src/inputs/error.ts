// The one error type of input parsing, and the two ways the parsers raise it.
// Each message is one line that starts with the input's action.yml name.

export class InputError extends Error {
  constructor(
    /** The action.yml name of the offending input. */
    readonly input: string,
    detail: string,
  ) {
    super(`${input}: ${detail}`);
    this.name = 'InputError';
  }
}

export function fail(input: string, detail: string): never {
  throw new InputError(input, detail);
}

/** Runs `fn`; a plain Error it throws becomes an InputError for `input`. */
export function tryOr<T>(input: string, fn: () => T, prefix = ''): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InputError) throw err;
    return fail(input, `${prefix}${(err as Error).message}`);
  }
}
