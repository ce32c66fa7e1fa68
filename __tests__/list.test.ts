import { describe, expect, it } from '@jest/globals';
import { parseList } from '../src/util/list.js';

describe('parseList', () => {
  it.each([
    ['an empty input gives no items', '', []],
    ['a blank input gives no items', '  \n \n', []],
    ['commas separate items', 'linux/amd64,linux/arm64', ['linux/amd64', 'linux/arm64']],
    ['newlines separate items', 'linux/amd64\nlinux/arm64\n', ['linux/amd64', 'linux/arm64']],
    ['commas and newlines mix', 'a,b\nc', ['a', 'b', 'c']],
    ['items are trimmed', ' a , b \n  c  ', ['a', 'b', 'c']],
    ['empty items are dropped', 'a,,b,\n\n,c', ['a', 'b', 'c']],
    ['CRLF line ends split items', 'a\r\nb', ['a', 'b']],
    ['a quoted item keeps its comma', '"a,b",c', ['a,b', 'c']],
    ['a quoted item may start after spaces', '  "a,b" , c', ['a,b', 'c']],
    ['a quoted item keeps its newline', '"line1\nline2",z', ['line1\nline2', 'z']],
    ['a quote inside an item is kept', 'FOO="bar baz"', ['FOO="bar baz"']],
    ['# is not a comment', '# not a comment', ['# not a comment']],
  ])('%s', (_name, input, expected) => {
    expect(parseList(input)).toEqual(expected);
  });

  it.each([
    ['each line is one item', 'FOO=a,b\nBAR=c', ['FOO=a,b', 'BAR=c']],
    ['spaces after a comma are kept', 'FOO=a, b', ['FOO=a, b']],
    ['a quoted line drops its quotes', '"FOO=a,b"\nBAR=1', ['FOO=a,b', 'BAR=1']],
    ['a quoted value may span lines', '"KEY=line1\nline2"\nB=2', ['KEY=line1\nline2', 'B=2']],
    ['lines are trimmed and blank lines dropped', '  type=gha  \n\n   \ntype=registry,ref=x/y:cache', ['type=gha', 'type=registry,ref=x/y:cache']],
  ])('with ignoreComma, %s', (_name, input, expected) => {
    expect(parseList(input, { ignoreComma: true })).toEqual(expected);
  });

  it('with quote false, keeps quotes as ordinary characters', () => {
    expect(parseList('"a,b",c', { quote: false })).toEqual(['"a', 'b"', 'c']);
  });

  it.each([
    ['an unclosed quote', '"abc'],
    ['text after a closing quote', 'x,"a"b'],
  ])('throws on %s without echoing the input', (_name, input) => {
    expect(() => parseList(input)).toThrow(/^not a valid list: /);
    try {
      parseList(input);
    } catch (err) {
      expect((err as Error).message).not.toContain(input);
    }
  });
});
