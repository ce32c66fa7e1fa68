// List inputs in the docker/build-push-action syntax: items separated by
// newlines or commas, with CSV quoting so one item can hold a comma or a
// newline (`"FOO=a,b"`). Never a bare split(',').
import { parse } from 'csv-parse/sync';
import { errorMessage } from './errors.js';

export interface ListOptions {
  /**
   * Each line is one item; commas inside a line are kept (build-args, labels,
   * annotations, secrets, cache-from, cache-to, driver-opts).
   */
  ignoreComma?: boolean;
  /** Set to false to treat `"` as an ordinary character. Default true. */
  quote?: boolean;
}

/**
 * Splits a list input into trimmed, non-empty items. Throws a plain Error
 * (without echoing the input, which may hold secrets) on broken quoting.
 */
export function parseList(value: string, opts: ListOptions = {}): string[] {
  if (value.trim() === '') return [];
  const ignoreComma = opts.ignoreComma === true;
  let records: string[][];
  try {
    records = parse(value, {
      columns: false,
      relaxQuotes: true,
      relaxColumnCount: true,
      skipEmptyLines: true,
      // Trimming around delimiters would change values in which a comma is
      // not a separator (`FOO=a, b`), so only trim when commas separate.
      trim: !ignoreComma,
      quote: opts.quote === false ? false : '"',
    }) as string[][];
  } catch (err) {
    throw new Error(`not a valid list: ${firstLine(errorMessage(err))}`, { cause: err });
  }
  const items: string[] = [];
  for (const record of records) {
    if (ignoreComma) items.push(record.join(','));
    else items.push(...record);
  }
  return items.map((item) => item.trim()).filter((item) => item !== '');
}

function firstLine(text: string): string {
  return text.split(/\r?\n/)[0] ?? '';
}
